from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class BackofficeConfig(AppConfig):
    default = True
    name = "backoffice"
    default_auto_field = "django.db.models.BigAutoField"


class BackofficeAdminConfig(admin_apps.AdminConfig):
    """Django admin whose default site asks staff for a TOTP code (backoffice.site)."""

    default = False  # referenced explicitly in INSTALLED_APPS
    default_site = "backoffice.site.BackofficeAdminSite"
