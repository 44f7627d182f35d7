from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.urls import reverse
from django.utils.html import format_html

from .models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["id", "username", "email", "is_staff", "is_active", "date_joined",
                    "player_page"]
    list_filter = ["is_staff", "is_active", "groups"]
    search_fields = ["username", "email", "=id"]
    readonly_fields = ["last_login", "date_joined"]

    @admin.display(description="")
    def player_page(self, obj):
        if obj.is_staff:
            return ""
        return format_html('<a href="{}">player page</a>',
                           reverse("backoffice:player_detail", args=[obj.pk]))
