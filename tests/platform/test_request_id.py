"""X-Request-ID: honoured or minted, returned, and on every log line of the request."""

import io
import json
import logging

import pytest
from rest_framework.test import APIClient

from common.logging import JsonFormatter, RequestIdFilter

pytestmark = pytest.mark.django_db


@pytest.fixture
def json_log():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)


def test_incoming_request_id_is_honoured_and_logged(json_log):
    resp = APIClient().get("/api/v1/wallets/", HTTP_X_REQUEST_ID="abc-123")
    assert resp.status_code == 401
    assert resp["X-Request-ID"] == "abc-123"
    lines = [json.loads(line) for line in json_log.getvalue().splitlines() if line]
    assert lines, "the 401 should have been logged"
    assert all(line["request_id"] == "abc-123" for line in lines)


def test_missing_or_hostile_request_id_is_replaced():
    minted = APIClient().get("/healthz")["X-Request-ID"]
    assert len(minted) == 32
    hostile = APIClient().get("/healthz", HTTP_X_REQUEST_ID="x" * 500 + "\n")["X-Request-ID"]
    assert hostile != "x" * 500 and len(hostile) == 32


def test_log_lines_are_json_without_request():
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    RequestIdFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "hello world" and line["request_id"] is None
