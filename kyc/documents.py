"""Uploaded documents: checked by content, cleaned of metadata, stored privately.

The client's file name and Content-Type are never trusted: the type comes from the bytes
(JPEG and PNG must decode completely with Pillow; a PDF must start with `%PDF-` and end
with `%%EOF`). Images are decoded and re-encoded, which drops EXIF (GPS position, device),
XMP, ICC and text chunks. Files are written under settings.PRIVATE_MEDIA_ROOT, which no
URL serves; staff read them through a view that logs each access.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from PIL import Image, ImageOps, UnidentifiedImageError
from rest_framework import serializers

from .models import DocumentKind

JPEG = "image/jpeg"
PNG = "image/png"
PDF = "application/pdf"
EXTENSIONS = {JPEG: "jpg", PNG: "png", PDF: "pdf"}
IMAGE_ONLY_KINDS = {DocumentKind.SELFIE}

_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_PDF_MAGIC = b"%PDF-"


@dataclass(frozen=True)
class CleanDocument:
    """A validated upload ready to store: the bytes to keep and what they are."""

    kind: str
    content: bytes
    content_type: str
    original_name: str

    @property
    def size(self) -> int:
        return len(self.content)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.content_type]


def _invalid(detail: str, code: str) -> serializers.ValidationError:
    return serializers.ValidationError(detail, code=code)


def max_document_bytes() -> int:
    return int(getattr(settings, "KYC_DOCUMENT_MAX_BYTES", 10 * 1024 * 1024))


def _sniff(head: bytes) -> str | None:
    if head.startswith(_JPEG_MAGIC):
        return JPEG
    if head.startswith(_PNG_MAGIC):
        return PNG
    if head.startswith(_PDF_MAGIC):
        return PDF
    return None


def _clean_image(content: bytes, content_type: str) -> bytes:
    """Decode the whole image and re-encode it without any metadata."""
    pil_format = "JPEG" if content_type == JPEG else "PNG"
    max_pixels = int(getattr(settings, "KYC_IMAGE_MAX_PIXELS", 40_000_000))
    try:
        with warnings.catch_warnings():
            # A decompression bomb is refused, not merely warned about.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content), formats=[pil_format]) as probe:
                probe.verify()
            with Image.open(io.BytesIO(content), formats=[pil_format]) as img:
                width, height = img.size
                if width * height > max_pixels:
                    raise _invalid("The image has too many pixels.", "file_too_large")
                img.load()
                # Apply the EXIF orientation before the EXIF goes, so the picture stays upright.
                upright = ImageOps.exif_transpose(img)
                if upright.mode == "P" and "transparency" in upright.info:
                    upright = upright.convert("RGBA")
                if pil_format == "JPEG" and upright.mode not in ("RGB", "L", "CMYK"):
                    upright = upright.convert("RGB")
                clean = upright.copy()
                # Pillow carries comments, ICC profiles and text over from `info`: drop all.
                clean.info = {}
                out = io.BytesIO()
                if pil_format == "JPEG":
                    clean.save(out, format="JPEG", quality=92)
                else:
                    clean.save(out, format="PNG", optimize=False)
                return out.getvalue()
    except serializers.ValidationError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):
        raise _invalid("The file is not a valid JPEG or PNG image.", "invalid_file_type") from None


def document_clean(*, upload, kind: str) -> CleanDocument:
    """Validate one upload by its content; return the bytes to store.

    Raises ValidationError with code empty_file, file_too_large or invalid_file_type.
    """
    size = getattr(upload, "size", None) or 0
    if size == 0:
        raise _invalid("The file is empty.", "empty_file")
    limit = max_document_bytes()
    if size > limit:
        raise _invalid(f"The file is larger than {limit} bytes.", "file_too_large")
    content = b"".join(upload.chunks())
    if len(content) != size or not content:  # the declared size must match what arrived
        raise _invalid("The file is empty or truncated.", "empty_file")
    content_type = _sniff(content[:16])
    if content_type is None:
        raise _invalid("Only JPEG, PNG and PDF files are accepted.", "invalid_file_type")
    if kind in IMAGE_ONLY_KINDS and content_type == PDF:
        raise _invalid("A selfie must be a JPEG or PNG image.", "invalid_file_type")
    if content_type == PDF:
        # A real PDF ends with %%EOF (possibly followed by whitespace or an update marker).
        if b"%%EOF" not in content[-1024:]:
            raise _invalid("The file is not a valid PDF document.", "invalid_file_type")
    else:
        content = _clean_image(content, content_type)
    name = os.path.basename(str(getattr(upload, "name", "") or ""))[:255]
    return CleanDocument(kind=kind, content=content, content_type=content_type,
                         original_name=name)


# --- private storage ---------------------------------------------------------------------


def private_root() -> Path:
    # Read on every call: tests and deployments point it elsewhere at runtime.
    return Path(settings.PRIVATE_MEDIA_ROOT)


def storage_path_for(*, application_id, document_id, extension: str) -> str:
    return f"kyc/{application_id}/{document_id}.{extension}"


def _absolute(relative: str) -> Path:
    root = private_root().resolve()
    path = (root / relative).resolve()
    if root not in path.parents:
        raise ValueError(f"refusing a storage path outside the private root: {relative!r}")
    return path


def storage_write(*, relative: str, content: bytes) -> None:
    """Write a new private file (owner-only permissions); never overwrite one."""
    path = _absolute(relative)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(content)
        fh.flush()
        os.fsync(fh.fileno())


def storage_delete(relative: str) -> None:
    try:
        _absolute(relative).unlink()
    except FileNotFoundError:
        pass


def storage_open(relative: str):
    """Open a stored file for reading. Raises FileNotFoundError."""
    return open(_absolute(relative), "rb")  # noqa: SIM115 - the response closes it
