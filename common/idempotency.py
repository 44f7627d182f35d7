"""Idempotency for every money-moving POST of every app: decorate the view method.

    class WithdrawalCreateApi(APIView):
        @idempotent
        def post(self, request): ...

Contract (DESIGN.md): `Idempotency-Key` required (400 idempotency_key_required); scoped per
player; same key + same request fingerprint replays the stored status and body with
`Idempotent-Replayed: true`; same key + different request: 422 idempotency_key_reused;
while the first is running: 409 idempotency_key_in_progress. A 5xx stores nothing, so a
retry runs again (the service's own transaction rolled back).

The claim is committed before the view runs, so a concurrent duplicate sees it at once.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.response import Response

from common.errors import BadRequest, Conflict, DomainError
from common.metrics import count_duplicate_request

from .models import IdempotencyRecord

HEADER = "HTTP_IDEMPOTENCY_KEY"
_KEY_RE = re.compile(r"^[A-Za-z0-9._:\-]{1,255}$")


class IdempotencyKeyRequired(BadRequest):
    code = "idempotency_key_required"
    default_detail = "An Idempotency-Key header (1-255 of A-Z a-z 0-9 . _ : -) is required."


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"
    status_code = 422
    default_detail = "This Idempotency-Key was used for a different request."


class IdempotencyKeyInProgress(Conflict):
    code = "idempotency_key_in_progress"
    default_detail = "A request with this Idempotency-Key is still being processed."


def _canonical(value: Any) -> Any:
    """JSON-able canonical form of parsed request data; uploaded files become their digest."""
    if hasattr(value, "read") and hasattr(value, "name"):
        digest = hashlib.sha256()
        for chunk in value.chunks():
            digest.update(chunk)
        value.seek(0)
        return {"file": value.name, "sha256": digest.hexdigest(), "size": value.size}
    if hasattr(value, "lists"):  # QueryDict / MultiValueDict
        return {k: [_canonical(v) for v in vs] for k, vs in sorted(value.lists())}
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def request_fingerprint(request, view_kwargs: dict) -> str:
    data = request.data
    files = getattr(request, "FILES", None)
    material = {
        "method": request.method,
        "path": request.path,
        "kwargs": {k: str(v) for k, v in sorted(view_kwargs.items())},
        "data": _canonical(data),
        "files": _canonical(files) if files else None,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


def _replay(record: IdempotencyRecord) -> Response:
    response = Response(record.response_body, status=record.response_status)
    response["Idempotent-Replayed"] = "true"
    return response


def _claim(*, user_id: int, key: str, fingerprint: str) -> tuple[bool, IdempotencyRecord | None]:
    """Insert an in-progress record; return (claimed, existing_record)."""
    try:
        with transaction.atomic(durable=True):
            IdempotencyRecord.objects.create(user_id=user_id, key=key, fingerprint=fingerprint)
        return True, None
    except IntegrityError:
        existing = IdempotencyRecord.objects.filter(user_id=user_id, key=key).first()
        return False, existing


def idempotent(view_method):
    """Decorate an APIView method that moves money."""

    @functools.wraps(view_method)
    def wrapper(self, request, *args, **kwargs):
        key = request.META.get(HEADER, "")
        if not _KEY_RE.match(key):
            raise IdempotencyKeyRequired()
        user_id = request.user.pk
        fingerprint = request_fingerprint(request, kwargs)

        claimed, existing = _claim(user_id=user_id, key=key, fingerprint=fingerprint)
        if not claimed:
            if existing is None:  # expired and deleted between insert and read: run again
                return wrapper(self, request, *args, **kwargs)
            if existing.fingerprint != fingerprint:
                raise IdempotencyKeyReused()
            if existing.status != IdempotencyRecord.Status.COMPLETED:
                raise IdempotencyKeyInProgress()
            count_duplicate_request(scope=self.__class__.__name__)
            return _replay(existing)

        try:
            response = view_method(self, request, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - shaped by the API's one exception handler
            response = self.handle_exception(exc)

        if response.status_code >= 500:
            IdempotencyRecord.objects.filter(user_id=user_id, key=key).delete()
            return response
        IdempotencyRecord.objects.filter(user_id=user_id, key=key).update(
            status=IdempotencyRecord.Status.COMPLETED,
            response_status=response.status_code,
            response_body=response.data,
            completed_at=timezone.now(),
        )
        return response

    return wrapper


def idempotency_records_expire(*, now, ttl_hours: int) -> int:
    """Delete records older than the TTL; return how many."""
    cutoff = now - timedelta(hours=ttl_hours)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
