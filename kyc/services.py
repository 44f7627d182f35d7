"""Every KYC and AML state change.

Each public function owns its `service_atomic()`. Lock order is fixed: the
player's AMLProfile row first (created on demand; it is the per-player compliance lock),
then the application row. Lock, re-check, write, record (history with who and why, and
an outbox event in the same transaction).

The partial unique index `kyc_one_live_application_per_player` is the last line of
defence: if two submits ever got past the lock, the second insert fails and the player
gets 409 kyc_application_exists with nothing stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import IntegrityError
from django_fsm import can_proceed

from common.db import service_atomic
from common.errors import BadRequest, SelfApprovalRefused
from common.gates import refuse_staff_account
from common.history import save_with_history
from events.services import emit

from .documents import CleanDocument, storage_delete, storage_open, storage_path_for, storage_write
from .errors import (
    DocumentsMissing,
    KYCAlreadyVerified,
    KYCApplicationExists,
    KYCApplicationNotFound,
    KYCDocumentNotFound,
    KYCInvalidState,
    KYCReapplyNotAllowed,
    PlayerNotFound,
    ReasonRequired,
)
from .lock_objects import compliance_row_lock
from .models import (
    IDENTITY_KINDS,
    LIVE_STATUSES,
    AMLProfile,
    AMLStatus,
    DocumentKind,
    KYCApplication,
    KYCDocument,
    KYCDocumentAccess,
    KYCStatus,
)
from .selectors import player_exists

# --- locks --------------------------------------------------------------------------------


def _lock_player(player_id: int) -> AMLProfile:
    return compliance_row_lock(player_id=player_id)


def _lock_application(application_id) -> KYCApplication:
    player_id = (KYCApplication.objects.filter(pk=application_id)
                 .values_list("player_id", flat=True).first())
    if player_id is None:
        raise KYCApplicationNotFound()
    _lock_player(player_id)
    return KYCApplication.objects.select_for_update().get(pk=application_id)


# --- events -------------------------------------------------------------------------------


def _emit_kyc(application: KYCApplication, *, from_status: str | None, now: datetime) -> None:
    emit(
        topic="kyc.status_changed", aggregate_type="kyc_application",
        aggregate_id=application.pk,
        payload={
            "player_id": application.player_id,
            "application_id": str(application.pk),
            "from": from_status,
            "to": application.status,
            "occurred_at": now.isoformat(),
        },
    )


def _store_documents(application: KYCApplication, documents: Sequence[CleanDocument], *,
                     now: datetime, written: list[str]) -> list[KYCDocument]:
    rows = []
    for clean in documents:
        doc = KYCDocument(application=application, kind=clean.kind,
                          content_type=clean.content_type, size=clean.size,
                          sha256=clean.sha256, original_name=clean.original_name,
                          uploaded_at=now)
        doc.storage_path = storage_path_for(application_id=application.pk, document_id=doc.pk,
                                            extension=clean.extension)
        # Record the path before writing so a failure anywhere after removes the file too.
        written.append(doc.storage_path)
        storage_write(relative=doc.storage_path, content=clean.content)
        doc.save(force_insert=True)
        rows.append(doc)
    return rows


# --- player -------------------------------------------------------------------------------


IDENTITY_FIELDS = ("full_name", "date_of_birth", "address", "country")


def kyc_application_submit_precheck(*, player) -> None:
    """Refuse early (unlocked) what kyc_application_submit would refuse by the player's
    application state, so uploads are decoded only for a player who may submit.
    kyc_application_submit checks again under its lock. Raises StaffAccountRefused,
    KYCAlreadyVerified, KYCApplicationExists, KYCReapplyNotAllowed."""
    # A staff account is never a KYC subject, whatever it filed as a player before.
    refuse_staff_account(player)
    live = KYCApplication.objects.filter(player=player, status__in=LIVE_STATUSES).first()
    if live is not None:
        if live.status == KYCStatus.APPROVED:
            raise KYCAlreadyVerified()
        if live.status != KYCStatus.RESUBMISSION_REQUESTED:
            raise KYCApplicationExists(extra={"application_id": str(live.pk)})
        return
    previous = (KYCApplication.objects.filter(player=player)
                .order_by("-submitted_at", "-created_at").first())
    if previous is not None and not previous.reapply_allowed:
        raise KYCReapplyNotAllowed()


def kyc_application_submit(*, player, documents: Sequence[CleanDocument],
                           now: datetime, identity: dict | None = None
                           ) -> tuple[KYCApplication, bool]:
    """Open the player's application, or complete a requested resubmission.

    `identity` (full_name, date_of_birth, address, country) is what the player declares; a
    resubmission may correct it.

    Returns (application, created). Raises StaffAccountRefused, KYCAlreadyVerified,
    KYCApplicationExists, KYCReapplyNotAllowed, DocumentsMissing. Nothing is stored (row or
    file) on a refusal.
    """
    # Separation of duties: a staff account is never a KYC subject (it could review itself).
    refuse_staff_account(player)
    if not documents:
        raise DocumentsMissing("Upload at least one document.")
    written: list[str] = []
    try:
        with service_atomic():
            # Serializes every submit of this player: of N parallel submits, one creates
            # the application and the others, once they get the lock, see it and refuse.
            _lock_player(player.pk)
            live = (KYCApplication.objects.select_for_update()
                    .filter(player=player, status__in=LIVE_STATUSES).first())
            if live is not None:
                if live.status == KYCStatus.APPROVED:
                    raise KYCAlreadyVerified()
                if live.status != KYCStatus.RESUBMISSION_REQUESTED:
                    raise KYCApplicationExists(extra={"application_id": str(live.pk)})
                _store_documents(live, documents, now=now, written=written)
                for name, value in (identity or {}).items():
                    if name in IDENTITY_FIELDS:
                        setattr(live, name, value)
                live.resubmit(now=now)
                save_with_history(live, user=player, reason="documents resubmitted")
                _emit_kyc(live, from_status=KYCStatus.RESUBMISSION_REQUESTED, now=now)
                return live, False

            previous = (KYCApplication.objects.filter(player=player)
                        .order_by("-submitted_at", "-created_at").first())
            if previous is not None and not previous.reapply_allowed:
                raise KYCReapplyNotAllowed()
            kinds = {d.kind for d in documents}
            if not kinds & set(IDENTITY_KINDS) or DocumentKind.SELFIE not in kinds:
                raise DocumentsMissing()
            application = KYCApplication(
                player=player, previous=previous, submitted_at=now,
                **{k: v for k, v in (identity or {}).items() if k in IDENTITY_FIELDS})
            save_with_history(application, user=player, reason="application submitted")
            _store_documents(application, documents, now=now, written=written)
            _emit_kyc(application, from_status=None, now=now)
            return application, True
    except IntegrityError as exc:
        _remove(written)
        if "kyc_one_live_application_per_player" in str(exc) or "previous_id" in str(exc):
            raise KYCApplicationExists() from None
        raise
    except BaseException:
        _remove(written)
        raise


def _remove(paths: list[str]) -> None:
    for relative in paths:
        storage_delete(relative)


# --- compliance decisions -----------------------------------------------------------------


def _require_reason(reason: str, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired(f"A reason is required to {what}.")
    return reason


def _refuse_own(application: KYCApplication, actor) -> None:
    # Separation of duties; the database backs it (kyc_reviewer_not_player CHECK).
    if actor is not None and application.player_id == actor.pk:
        raise SelfApprovalRefused("Another compliance officer must review your own application.")


def _claim_for_review(application: KYCApplication, *, actor, now: datetime) -> None:
    _refuse_own(application, actor)
    application.start_review(reviewer=actor)
    save_with_history(application, user=actor, reason="review started")
    _emit_kyc(application, from_status=KYCStatus.SUBMITTED, now=now)


def kyc_application_start_review(*, application_id, actor, now: datetime) -> KYCApplication:
    """Move a submitted application into review by `actor`. Raises NotFound, KYCInvalidState."""
    with service_atomic():
        application = _lock_application(application_id)
        if not can_proceed(application.start_review):
            raise KYCInvalidState(f"A {application.status} application cannot go into review.")
        _claim_for_review(application, actor=actor, now=now)
    return application


def _decide(*, application_id, actor, now: datetime, method: str, reason: str,
            verb: str) -> KYCApplication:
    with service_atomic():
        application = _lock_application(application_id)
        # A decision on a submitted application passes through in_review, so the history
        # shows the full path submitted -> in_review -> decision.
        if application.status == KYCStatus.SUBMITTED:
            _claim_for_review(application, actor=actor, now=now)
        _refuse_own(application, actor)
        transition = getattr(application, method)
        if not can_proceed(transition):
            raise KYCInvalidState(f"A {application.status} application cannot be {verb}.")
        transition(reviewer=actor, reason=reason, now=now)
        save_with_history(application, user=actor, reason=reason or verb)
        _emit_kyc(application, from_status=KYCStatus.IN_REVIEW, now=now)
    return application


def kyc_application_approve(*, application_id, actor, reason: str = "",
                            now: datetime) -> KYCApplication:
    """Approve an application. Raises NotFound, KYCInvalidState, SelfApprovalRefused (the
    reviewer's own application)."""
    return _decide(application_id=application_id, actor=actor, now=now, method="approve",
                   reason=(reason or "").strip(), verb="approved")


def kyc_application_reject(*, application_id, actor, reason: str,
                           now: datetime) -> KYCApplication:
    """Reject an application (the player may not reapply until allowed).

    Raises ReasonRequired, NotFound, KYCInvalidState.
    """
    reason = _require_reason(reason, "reject an application")
    return _decide(application_id=application_id, actor=actor, now=now, method="reject",
                   reason=reason, verb="rejected")


def kyc_application_request_resubmission(*, application_id, actor, reason: str,
                                         now: datetime) -> KYCApplication:
    """Ask the player for new documents. Raises ReasonRequired, NotFound, KYCInvalidState."""
    reason = _require_reason(reason, "request a resubmission")
    return _decide(application_id=application_id, actor=actor, now=now,
                   method="request_resubmission", reason=reason, verb="sent back")


def kyc_application_allow_reapply(*, application_id, actor, reason: str,
                                  now: datetime) -> KYCApplication:
    """Let the player of a rejected application apply again.

    Raises ReasonRequired, NotFound, KYCInvalidState (not rejected, or not the latest).
    """
    reason = _require_reason(reason, "allow a new application")
    with service_atomic():
        application = _lock_application(application_id)
        if application.status != KYCStatus.REJECTED:
            raise KYCInvalidState("Only a rejected application can be reopened for reapplying.")
        if KYCApplication.objects.filter(previous=application).exists():
            raise KYCInvalidState("The player has already applied again.")
        _refuse_own(application, actor)
        if not application.reapply_allowed:
            application.reapply_allowed = True
            save_with_history(application, user=actor, reason=f"reapply allowed: {reason}")
    return application


# --- AML ----------------------------------------------------------------------------------


def aml_status_change(*, player_id: int, status: str, reason: str, actor,
                      now: datetime) -> AMLProfile:
    """Set a player's AML status (clear, review, blocked), recording who and why.

    Raises BadRequest(invalid_aml_status), ReasonRequired (review and blocked), PlayerNotFound.
    """
    if status not in AMLStatus.values:
        raise BadRequest(f"Unknown AML status {status!r}.", code="invalid_aml_status")
    reason = (reason or "").strip()
    if status != AMLStatus.CLEAR:
        reason = _require_reason(reason, f"set the AML status to {status}")
    if not player_exists(player_id=player_id):
        raise PlayerNotFound()
    with service_atomic():
        profile = _lock_player(player_id)
        previous = profile.status
        profile.status = status
        profile.reason = reason
        profile.changed_by = actor
        profile.changed_at = now
        save_with_history(profile, user=actor, reason=reason or f"set to {status}")
        if previous != status:
            emit(
                topic="aml.status_changed", aggregate_type="player", aggregate_id=player_id,
                payload={"player_id": player_id, "from": previous, "to": status,
                         "occurred_at": now.isoformat()},
            )
    return profile


# --- documents ----------------------------------------------------------------------------


def kyc_document_read(*, document_id, staff, now: datetime, ip_address: str | None = None):
    """Open a stored document for a compliance officer and log the access.

    Returns (document, open binary file). Raises KYCDocumentNotFound.
    """
    document = KYCDocument.objects.filter(pk=document_id).first()
    if document is None:
        raise KYCDocumentNotFound()
    try:
        fh = storage_open(document.storage_path)
    except FileNotFoundError:
        raise KYCDocumentNotFound("The document's file is missing.") from None
    try:
        with service_atomic():
            KYCDocumentAccess.objects.create(document=document, staff=staff, accessed_at=now,
                                             ip_address=ip_address)
    except BaseException:
        fh.close()
        raise
    return document, fh
