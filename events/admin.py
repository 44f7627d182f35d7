"""The outbox and parked tasks in the admin: read-only, except publishing a parked task again."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from common.admin import ReadOnlyAdminMixin

from .models import OutboxEvent, ParkedTask
from .relay import parked_task_requeue


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "topic", "aggregate_type", "aggregate_id", "created_at", "sent_at",
                    "attempts"]
    list_filter = ["topic"]
    search_fields = ["aggregate_id", "=event_id"]
    show_full_result_count = False


@admin.register(ParkedTask)
class ParkedTaskAdmin(admin.ModelAdmin):
    list_display = ("task_id", "task_name", "args", "deliveries", "parked_at", "requeued_at")
    actions = ["requeue"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        # Rows are never edited; "change" is the permission behind the requeue action.
        return obj is None and super().has_change_permission(request, obj)

    @admin.action(description="Publish again (fresh delivery count)")
    def requeue(self, request, queryset):
        if not request.user.has_perm("events.change_parkedtask"):
            raise PermissionDenied("Requeuing a parked task needs the payments role.")
        for pk in queryset.values_list("pk", flat=True):
            parked_task_requeue(parked_id=pk, now=timezone.now())
        self.message_user(request, "Requeued.")
