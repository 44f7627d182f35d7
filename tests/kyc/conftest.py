"""KYC test helpers: real image/PDF bytes, a private media root per test, API helpers."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

from tests.factories import make_player, make_staff
from users.roles import COMPLIANCE, SUPPORT

_keys = itertools.count(1)


def png_bytes(colour: str = "navy", size=(40, 30), text: dict | None = None) -> bytes:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    for k, v in (text or {}).items():
        info.add_text(k, v)
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def jpeg_bytes(colour: str = "tan", size=(40, 30), exif: bool = False) -> bytes:
    img = Image.new("RGB", size, colour)
    out = io.BytesIO()
    if exif:
        data = Image.Exif()
        data[0x010F] = "SpyCam Inc."  # Make
        data[0x0110] = "Model X"  # Model
        data[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0), 3: "W", 4: (0.0, 7.0, 0.0)}  # GPS
        img.save(out, format="JPEG", exif=data.tobytes(), comment=b"secret comment")
    else:
        img.save(out, format="JPEG")
    return out.getvalue()


def pdf_bytes() -> bytes:
    return (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
            b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
            b"trailer << /Root 1 0 R >>\n%%EOF\n")


def upload(name: str, content: bytes, content_type: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


def good_documents() -> dict:
    return {
        "passport": upload("passport.png", png_bytes()),
        "selfie": upload("selfie.jpg", jpeg_bytes(), "image/jpeg"),
    }


def submit(client: APIClient, files: dict | None = None, *, key: str | None = None):
    return client.post("/api/v1/kyc/applications/", files if files is not None else good_documents(),
                       format="multipart", HTTP_IDEMPOTENCY_KEY=key or f"kyc-{next(_keys)}")


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path) -> Path:
    root = tmp_path / "private"
    settings.PRIVATE_MEDIA_ROOT = root
    return root


@pytest.fixture
def compliance(db):
    return make_staff(COMPLIANCE)


@pytest.fixture
def compliance_api(compliance, make_api):
    return make_api(compliance)


@pytest.fixture
def support_api(db, make_api):
    return make_api(make_staff(SUPPORT))


@pytest.fixture
def other_player(db):
    return make_player()
