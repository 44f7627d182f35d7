"""The request edge: bodies too large, too deep or carrying NUL bytes are refused first.

`RequestGuardMiddleware` (early in settings.MIDDLEWARE: before sessions, authentication,
CSRF, any view, any signature check and any Idempotency-Key) looks at every request:

- a NUL (raw or `%00`) or an unpaired surrogate in the path or the query string, and in a
  body that is not multipart (JSON: a raw NUL, a `\\u0000` escape or a lone `\\ud800`-style
  escape anywhere, keys included; forms: `%00`): 400 `invalid_characters`;
- a body longer than REQUEST_BODY_MAX_BYTES (multipart uploads: REQUEST_UPLOAD_MAX_BYTES):
  413 `body_too_large`, decided from Content-Length before a byte is read;
- a JSON (or any non-form) body nested deeper than REQUEST_JSON_MAX_DEPTH arrays/objects:
  400 `body_too_deep`, measured without parsing (no recursion, linear time).

Nothing behind it runs, so nothing is written and no Idempotency-Key is claimed: the same key
with a good body then runs normally. A view whose contract demands its own error envelope
(a game provider's wallet API) names a renderer with `@edge_error_renderer(fn)`; `fn(request,
exc, **view_kwargs)` answers instead of the platform's `{code, detail}` body.

`body_problem(raw, content_type)` and `json_text_problem(text)` are the same checks for other
interfaces (the game-session WebSocket).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve

from .errors import BodyTooDeep, BodyTooLarge, DomainError, InvalidCharacters, error_body

# A JSON string literal (unrolled, linear): removed before brackets are counted.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
# An escape of NUL: an odd run of backslashes, then u0000 (an even run is a literal "\").
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
# A UTF-16 surrogate escape, and a well-formed pair of them.
_SURROGATE = rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}"
_PAIR = re.compile(rb"(?<!\\)((?:\\\\)*)\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}")
_LONE_SURROGATE = re.compile(rb"(?<!\\)(?:\\\\)*" + _SURROGATE)
_FORM_NUL = re.compile(rb"%00|\x00")
_BRACKETS = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")


def _limit(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def json_depth_exceeds(raw: bytes, limit: int) -> bool:
    """Is `raw` (JSON text) nested deeper than `limit` arrays/objects? Linear, no recursion.

    Strings are dropped, every bracket becomes [ or ], and innermost pairs are removed one
    level per pass: a pair still left after `limit` passes sits deeper than `limit`. Unclosed
    openers (a truncated body) count too: a parser would recurse into them all the same.
    """
    if b"[" not in raw and b"{" not in raw:
        return False
    shape = _JSON_STRING.sub(b"", raw).translate(_BRACKETS, _NOT_BRACKETS)
    for _ in range(limit):
        reduced = shape.replace(b"[]", b"")
        if reduced == shape:
            break
        shape = reduced
    else:
        if b"[]" in shape:
            return True
    # What is left has no pair at depth <= limit: "]]]...[[[" from a malformed body.
    return len(shape) - len(shape.rstrip(b"[")) > limit


def _has_bad_escape(raw: bytes) -> bool:
    if b"\\u" not in raw:
        return False
    if _NUL_ESCAPE.search(raw):
        return True
    if _LONE_SURROGATE.search(raw) is None:
        return False
    return _LONE_SURROGATE.search(_PAIR.sub(rb"\1", raw)) is not None


def body_problem(raw: bytes, content_type: str) -> DomainError | None:
    """The refusal `raw` (a non-multipart request body) earns, or None."""
    if not raw:
        return None
    if content_type.startswith("application/x-www-form-urlencoded"):
        if _FORM_NUL.search(raw):
            return InvalidCharacters()
        return None
    # JSON, or anything a view might json.loads (provider callbacks ignore Content-Type).
    if b"\x00" in raw or _has_bad_escape(raw):
        return InvalidCharacters()
    limit = _limit("REQUEST_JSON_MAX_DEPTH", 32)
    if json_depth_exceeds(raw, limit):
        return BodyTooDeep(f"JSON bodies may nest at most {limit} arrays or objects.")
    return None


def json_text_problem(text: str, *, max_bytes: int | None = None) -> DomainError | None:
    """The same checks for a JSON text message (a WebSocket frame)."""
    max_bytes = max_bytes or _limit("WEBSOCKET_MESSAGE_MAX_BYTES", 64 * 1024)
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:
        return InvalidCharacters()
    if len(raw) > max_bytes:
        return BodyTooLarge(f"Messages are limited to {max_bytes} bytes.")
    return body_problem(raw, "application/json")


def _has_bad_text(value: str) -> bool:
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def request_problem(request: HttpRequest) -> DomainError | None:
    """Judge a request at the edge: path, query string, declared size, then the body."""
    query = request.META.get("QUERY_STRING", "")
    if _has_bad_text(request.path_info) or _has_bad_text(query) or "%00" in query:
        return InvalidCharacters()
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length <= 0:
        return None
    content_type = request.META.get("CONTENT_TYPE", "").lower()
    if content_type.startswith("multipart/"):
        limit = _limit("REQUEST_UPLOAD_MAX_BYTES", 32 * 1024 * 1024)
        if length > limit:
            return BodyTooLarge(f"Uploads are limited to {limit} bytes.")
        # Files are binary: their checks belong to the endpoint (kyc.documents); the text
        # fields go through serializers, whose CharField refuses NUL.
        return None
    limit = _limit("REQUEST_BODY_MAX_BYTES", 1024 * 1024)
    if length > limit:
        return BodyTooLarge(f"Request bodies are limited to {limit} bytes.")
    return body_problem(request.body, content_type)


Renderer = Callable[..., HttpResponse]


def edge_error_renderer(renderer: Renderer):
    """Mark a view whose contract answers edge refusals in its own envelope."""

    def mark(view):
        view.edge_error_renderer = renderer
        return view

    return mark


def edge_error_response(request: HttpRequest, exc: DomainError) -> HttpResponse:
    try:
        match = resolve(request.path_info)
    except Resolver404:
        match = None
    renderer = getattr(getattr(match, "func", None), "edge_error_renderer", None)
    if renderer is not None and match is not None:
        return renderer(request, exc, **match.kwargs)
    return JsonResponse(error_body(exc.code, exc.detail, **exc.extra), status=exc.status_code)


class RequestGuardMiddleware:
    """Refuse malformed requests before anything else looks at them (module docstring)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self.__acall__(request)
        problem = request_problem(request)
        if problem is not None:
            return edge_error_response(request, problem)
        return self.get_response(request)

    async def __acall__(self, request):
        # The ASGI handler has buffered the body already (the server or proxy in front
        # bounds that); judging it is CPU only: no database, no network.
        problem = request_problem(request)
        if problem is not None:
            return edge_error_response(request, problem)
        return await self.get_response(request)
