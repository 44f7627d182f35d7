"""Reads. Gates and the player's own status read the primary; staff lists may not."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from users.models import User

from .errors import KYCApplicationNotFound
from .models import (
    LIVE_STATUSES,
    QUEUE_STATUSES,
    AMLProfile,
    AMLStatus,
    KYCApplication,
    KYCDocument,
    KYCStatus,
)

NOT_SUBMITTED = "not_submitted"


def aml_status_get(*, player_id: int) -> str:
    """The player's AML status; a player without a profile row is clear."""
    status = (AMLProfile.objects.using("default").filter(player_id=player_id)
              .values_list("status", flat=True).first())
    return status or AMLStatus.CLEAR


def player_exists(*, player_id: int) -> bool:
    return User.objects.filter(pk=player_id, is_staff=False).exists()


def kyc_is_verified(*, player_id: int) -> bool:
    return (KYCApplication.objects.using("default")
            .filter(player_id=player_id, status=KYCStatus.APPROVED).exists())


def kyc_application_current_or_none(*, player_id: int) -> KYCApplication | None:
    """The live application, else the latest (rejected) one, else None."""
    qs = KYCApplication.objects.using("default").filter(player_id=player_id)
    live = qs.filter(status__in=LIVE_STATUSES).first()
    if live is not None:
        return live
    return qs.order_by("-submitted_at", "-created_at").first()


def kyc_status_get(*, player) -> dict:
    """What the player sees at GET /kyc/: {status, application_id, aml_status, ...}."""
    application = kyc_application_current_or_none(player_id=player.pk)
    if application is None:
        status, can_apply, reason = NOT_SUBMITTED, True, ""
    else:
        status = application.status
        can_apply = (
            status == KYCStatus.RESUBMISSION_REQUESTED
            or (status == KYCStatus.REJECTED and application.reapply_allowed)
        )
        shown = (KYCStatus.REJECTED, KYCStatus.RESUBMISSION_REQUESTED)
        reason = application.decision_reason if status in shown else ""
    return {
        "status": status,
        "application_id": application.pk if application else None,
        "aml_status": aml_status_get(player_id=player.pk),
        "can_apply": can_apply,
        "reason": reason,
    }


def kyc_application_get(*, application_id, player=None) -> KYCApplication:
    """One application; with `player`, only if it is theirs. Raises KYCApplicationNotFound."""
    qs = KYCApplication.objects.select_related("player", "reviewer")
    if player is not None:
        qs = qs.using("default").filter(player=player)
    application = qs.filter(pk=application_id).first()
    if application is None:
        raise KYCApplicationNotFound()
    return application


def kyc_application_list(*, statuses=QUEUE_STATUSES) -> QuerySet[KYCApplication]:
    """The review queue: oldest submission first."""
    return (KYCApplication.objects.filter(status__in=statuses)
            .select_related("player", "reviewer")
            .annotate(document_count=Count("documents"))
            .order_by("submitted_at", "created_at"))


def kyc_document_list(*, application) -> QuerySet[KYCDocument]:
    return KYCDocument.objects.filter(application=application).order_by("uploaded_at", "kind")


def kyc_application_history(*, application) -> list[dict]:
    """Every recorded state of the application, oldest first, with who and why."""
    rows = application.history.select_related("history_user").order_by("history_date",
                                                                        "history_id")
    return [
        {
            "at": row.history_date,
            "status": row.status,
            "by": row.history_user.username if row.history_user else None,
            "reason": row.history_change_reason or "",
        }
        for row in rows
    ]


def aml_history(*, player_id: int) -> list[dict]:
    rows = (AMLProfile.history.filter(player_id=player_id).select_related("history_user")
            .order_by("history_date", "history_id"))
    return [
        {
            "at": row.history_date,
            "status": row.status,
            "by": row.history_user.username if row.history_user else None,
            "reason": row.history_change_reason or "",
        }
        for row in rows
    ]
