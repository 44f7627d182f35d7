"""Backoffice pages inside the admin (included at /admin/ before the admin's own URLs)."""

from django.contrib import admin
from django.urls import path

from . import views

app_name = "backoffice"


def _staff(view):
    return admin.site.admin_view(view)


urlpatterns = [
    path("players/", _staff(views.player_search_view), name="player_search"),
    path("players/<int:player_id>/", _staff(views.player_detail_view), name="player_detail"),
    path("players/<int:player_id>/notes/", _staff(views.player_note_add_view),
         name="player_note_add"),
    path("dashboard/", _staff(views.dashboard_view), name="dashboard"),
    path("audit-export/", _staff(views.audit_export_view), name="audit_export"),
]
