"""Idempotency for every money-moving POST of every app: decorate the view method.

    class WithdrawalCreateApi(APIView):
        @idempotent
        def post(self, request): ...

Contract (DESIGN.md): `Idempotency-Key` required (400 idempotency_key_required); scoped per
player; same key + same request fingerprint replays the stored status and body with
`Idempotent-Replayed: true`; same key + different request: 422 idempotency_key_reused.

**The record commits with the money.** The decorator opens the request's one durable
transaction (`common.db.request_transaction`) and, inside it: inserts the key's record, runs
the view (whose service joins this transaction through `common.db.service_atomic`, without a
savepoint), and stores the answer on the record; then it commits once. So:

- a concurrent duplicate's INSERT waits on the unique index until the first commits, then
  replays its answer (or, if the first rolled back, runs itself): the effect runs at most once;
- a process killed or a connection dropped mid-request commits nothing: PostgreSQL rolls the
  transaction back as soon as the connection goes, so no key is left "in progress" and the
  retry runs once (or, if the commit itself landed, replays it);
- an exception while shaping the answer rolls back the effect with it: nothing ran, the
  retry runs once. An exception after the commit (an on_commit hook) leaves the committed
  record, which the retry replays;
- one commit per money request.

A refusal (4xx) rolls the transaction back (nothing was written) and is then stored in a
transaction of its own, so its retry replays it. A 5xx stores nothing. A committed record
still "in_progress" (written before this design) answers 409 idempotency_key_in_progress;
`reconcile` reports such keys (`stuck_idempotency_key`).

Services that a decorated view calls open their transaction with
`common.db.service_atomic()` (durable outside a request, joined inside one); a service that
recovers from an IntegrityError itself asks for `service_atomic(savepoint=True)`.
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

from common.db import request_transaction
from common.errors import (
    BodyTooDeep,
    IdempotencyKeyInProgress,
    IdempotencyKeyRequired,
    IdempotencyKeyReused,
)
from common.metrics import count_duplicate_request

from .models import IdempotencyRecord

HEADER = "HTTP_IDEMPOTENCY_KEY"
_KEY_RE = re.compile(r"[A-Za-z0-9._:\-]{1,255}\Z")


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


class _KeyTaken(Exception):
    pass


class _Refused(Exception):
    def __init__(self, response):
        self.response = response


def _claim(*, user_id: int, key: str, fingerprint: str) -> None:
    """Insert the key's record in the request transaction; raise _KeyTaken if it exists.

    A concurrent request holding the key makes this INSERT wait for its commit or rollback.
    """
    try:
        IdempotencyRecord.objects.create(user_id=user_id, key=key, fingerprint=fingerprint)
    except IntegrityError:
        raise _KeyTaken() from None


def _answer_existing(view, *, user_id: int, key: str, fingerprint: str):
    existing = IdempotencyRecord.objects.filter(user_id=user_id, key=key).first()
    if existing is None:  # the holder rolled back, or the record expired meanwhile
        return None
    if existing.fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    if existing.status != IdempotencyRecord.Status.COMPLETED:
        raise IdempotencyKeyInProgress()
    count_duplicate_request(scope=view.__class__.__name__)
    return _replay(existing)


def _store_refusal(view, response, *, user_id: int, key: str, fingerprint: str):
    try:
        with transaction.atomic(durable=True):
            IdempotencyRecord.objects.create(
                user_id=user_id, key=key, fingerprint=fingerprint,
                status=IdempotencyRecord.Status.COMPLETED, response_status=response.status_code,
                response_body=response.data, completed_at=timezone.now())
    except IntegrityError:
        # A duplicate ran meanwhile (ours wrote nothing): answer what it committed.
        return _answer_existing(view, user_id=user_id, key=key, fingerprint=fingerprint) or response
    return response


_ATTEMPTS = 3


def idempotent(view_method):
    """Decorate an APIView method that moves money (see the module docstring)."""

    @functools.wraps(view_method)
    def wrapper(self, request, *args, **kwargs):
        key = request.META.get(HEADER, "")
        if not _KEY_RE.match(key):
            raise IdempotencyKeyRequired()
        user_id = request.user.pk
        try:
            fingerprint = request_fingerprint(request, kwargs)
        except RecursionError:
            # The edge middleware (common.edges) refuses deep bodies first; this guards an
            # interface that bypasses it. Nothing was claimed: the key stays free.
            raise BodyTooDeep() from None

        for _ in range(_ATTEMPTS):
            try:
                with request_transaction():
                    _claim(user_id=user_id, key=key, fingerprint=fingerprint)
                    try:
                        response = view_method(self, request, *args, **kwargs)
                    except Exception as exc:  # noqa: BLE001 - shaped by the API's one handler
                        response = self.handle_exception(exc)
                    if response.status_code >= 400:
                        raise _Refused(response)  # roll back whatever was written
                    IdempotencyRecord.objects.filter(user_id=user_id, key=key).update(
                        status=IdempotencyRecord.Status.COMPLETED,
                        response_status=response.status_code,
                        response_body=response.data,
                        completed_at=timezone.now(),
                    )
                return response
            except _KeyTaken:
                replay = _answer_existing(self, user_id=user_id, key=key, fingerprint=fingerprint)
                if replay is not None:
                    return replay
            except _Refused as refused:
                if refused.response.status_code >= 500:
                    return refused.response
                return _store_refusal(self, refused.response, user_id=user_id, key=key,
                                      fingerprint=fingerprint)
        raise IdempotencyKeyInProgress()

    wrapper.idempotent = True  # type: ignore[attr-defined]  # the OpenAPI schema documents the header (common.schema)
    return wrapper


def idempotency_records_expire(*, now, ttl_hours: int) -> int:
    """Delete records older than the TTL; return how many."""
    cutoff = now - timedelta(hours=ttl_hours)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
