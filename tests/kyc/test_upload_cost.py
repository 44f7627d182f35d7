"""Issue 12: KYC images are judged from their header (pixels, decoding cost) before any
decode, after the application-state check, and uploads are throttled per player.

A 6300x6300 all-zero RGB PNG is 113 KiB on disk and 119 MB decoded: it took 12 s and 450 MiB
to decode (five in one request ran past 30 s). Through the API against PostgreSQL and Redis.
"""

from __future__ import annotations

import struct
import time
import zlib

import pytest
from django.core.cache import cache
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle

from kyc.models import KYCApplication, KYCDocument
from tests.kyc.conftest import good_documents, jpeg_bytes, stored_files, submit, upload

pytestmark = pytest.mark.django_db


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def zero_png(width: int, height: int) -> bytes:
    """An all-zero 8-bit RGB PNG, compressed row by row (the test never holds the pixels)."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + 3 * width)  # filter byte + pixels
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat)
            + _chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def bomb() -> bytes:
    data = zero_png(6300, 6300)
    assert len(data) < 120 * 1024  # ~113 KiB
    return data


def _nothing_stored(player, private_media):
    assert KYCApplication.objects.filter(player=player).count() == 0
    assert KYCDocument.objects.count() == 0
    assert stored_files(private_media) == []


def test_a_6300_square_zero_png_is_refused_fast_before_decoding(bomb, player, player_api,
                                                               private_media):
    files = {"passport": upload("p.png", bomb), "selfie": upload("s.jpg", jpeg_bytes(),
                                                                 "image/jpeg")}
    started = time.monotonic()
    res = submit(player_api, files)
    elapsed = time.monotonic() - started
    assert (res.status_code, res.json()["code"]) == (400, "file_too_large")
    assert elapsed < 3, elapsed  # the decode alone took 12 s
    _nothing_stored(player, private_media)


def test_five_bombs_in_one_request_are_refused_fast(bomb, player, player_api, private_media):
    files = {kind: upload(f"{kind}.png", bomb) for kind in
             ("passport", "id_card", "driving_licence", "proof_of_address", "selfie")}
    started = time.monotonic()
    res = submit(player_api, files)
    elapsed = time.monotonic() - started
    assert (res.status_code, res.json()["code"]) == (400, "file_too_large")
    assert set(res.json()["errors"]) == set(files)
    assert elapsed < 5, elapsed
    _nothing_stored(player, private_media)


def test_under_the_pixel_cap_a_bomb_is_refused_by_its_compression_ratio(
        settings, bomb, player, player_api, private_media):
    settings.KYC_IMAGE_MAX_PIXELS = 50_000_000
    settings.KYC_IMAGE_MAX_DECODED_BYTES = 200 * 1024 * 1024
    files = {**good_documents(), "passport": upload("p.png", bomb)}
    started = time.monotonic()
    res = submit(player_api, files)
    assert (res.status_code, res.json()["code"]) == (400, "image_decompression_bomb")
    assert time.monotonic() - started < 3
    _nothing_stored(player, private_media)


def test_the_decoding_budget_of_one_upload_is_checked_before_any_decode(
        settings, player, player_api, private_media):
    settings.KYC_UPLOAD_MAX_DECODED_BYTES = 5_000  # the two 40x30 RGB images: 7200 bytes
    res = submit(player_api)
    assert (res.status_code, res.json()["code"]) == (400, "upload_too_large")
    _nothing_stored(player, private_media)


def test_the_application_state_is_checked_before_the_images(bomb, player, player_api,
                                                            private_media):
    assert submit(player_api).status_code == 201
    application = KYCApplication.objects.get(player=player)
    started = time.monotonic()
    res = submit(player_api, {**good_documents(), "passport": upload("p.png", bomb)})
    assert (res.status_code, res.json()["code"]) == (409, "kyc_application_exists")
    assert time.monotonic() - started < 3
    assert KYCApplication.objects.filter(player=player).count() == 1
    assert KYCDocument.objects.filter(application=application).count() == 2


@pytest.fixture
def kyc_rate(settings):
    def _set(rate: str):
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "kyc_upload": rate}}
        api_settings.reload()
        ScopedRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES

    cache.clear()
    yield _set
    cache.clear()
    api_settings.reload()
    ScopedRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES


def test_uploads_are_throttled_per_player(kyc_rate, player, player_api, other_player, make_api,
                                          private_media):
    kyc_rate("2/hour")
    assert submit(player_api).status_code == 201
    assert submit(player_api).json()["code"] == "kyc_application_exists"
    third = submit(player_api)
    assert third.status_code == 429
    body = third.json()
    assert body["code"] == "too_many_attempts" and body["detail"] and "Retry-After" in third.headers
    assert KYCDocument.objects.count() == 2
    assert submit(make_api(other_player)).status_code == 201  # per player, not global
