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


# Bytes per decoded pixel of Pillow's modes (what a decode allocates, before any copy).
_MODE_BYTES = {"1": 0.125, "L": 1, "P": 1, "LA": 2, "PA": 2, "La": 2, "I;16": 2, "I;16B": 2,
               "I;16L": 2, "RGB": 3, "YCbCr": 3, "LAB": 3, "HSV": 3, "RGBA": 4, "RGBa": 4,
               "RGBX": 4, "CMYK": 4, "I": 4, "F": 4}


def _limits() -> tuple[int, int, int]:
    return (int(getattr(settings, "KYC_IMAGE_MAX_PIXELS", 24_000_000)),
            int(getattr(settings, "KYC_IMAGE_MAX_DECODED_BYTES", 96 * 1024 * 1024)),
            int(getattr(settings, "KYC_IMAGE_MAX_COMPRESSION_RATIO", 250)))


def decoded_bytes(*, width: int, height: int, mode: str) -> int:
    return int(width * height * _MODE_BYTES.get(mode, 4))


def _inspect_image(content: bytes, content_type: str) -> int:
    """Read the image header only (Image.open is lazy: no pixel is decoded) and judge the cost
    of decoding it: pixel count, decoded size, and decoded size against file size (a
    decompression bomb: 113 KiB of zeros can be a 6300x6300 RGB image, 119 MB decoded).
    Returns the decoded size. Raises ValidationError file_too_large, image_decompression_bomb,
    invalid_file_type."""
    pil_format = "JPEG" if content_type == JPEG else "PNG"
    max_pixels, max_decoded, max_ratio = _limits()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content), formats=[pil_format]) as probe:
                width, height = probe.size
                mode = probe.mode
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):
        raise _invalid("The file is not a valid JPEG or PNG image.", "invalid_file_type") from None
    if width <= 0 or height <= 0:
        raise _invalid("The file is not a valid JPEG or PNG image.", "invalid_file_type")
    if width * height > max_pixels:
        raise _invalid(f"The image has more than {max_pixels} pixels.", "file_too_large")
    cost = decoded_bytes(width=width, height=height, mode=mode)
    if cost > max_decoded:
        raise _invalid(f"The image would decode to more than {max_decoded} bytes.",
                       "file_too_large")
    # Small images decode cheaply whatever their ratio (a flat-colour PNG compresses well).
    if cost > 8 * 1024 * 1024 and cost > max_ratio * len(content):
        raise _invalid("The image decodes to far more than its file size (a decompression bomb).",
                       "image_decompression_bomb")
    return cost


def _clean_image(content: bytes, content_type: str) -> bytes:
    """Decode the whole image and re-encode it without any metadata (after _inspect_image)."""
    pil_format = "JPEG" if content_type == JPEG else "PNG"
    try:
        with warnings.catch_warnings():
            # A decompression bomb is refused, not merely warned about.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content), formats=[pil_format]) as probe:
                probe.verify()
            with Image.open(io.BytesIO(content), formats=[pil_format]) as img:
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
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):
        raise _invalid("The file is not a valid JPEG or PNG image.", "invalid_file_type") from None


@dataclass(frozen=True)
class PendingDocument:
    """An upload whose header passed (type, size, pixels, decoding cost); not decoded yet."""

    kind: str
    content: bytes
    content_type: str
    original_name: str
    decoded_bytes: int


def document_inspect(*, upload, kind: str) -> PendingDocument:
    """Check one upload without decoding it: size, type by content, and for images the header
    (pixels, decoding cost). Raises ValidationError empty_file, file_too_large,
    invalid_file_type, image_decompression_bomb."""
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
    cost = 0
    if content_type == PDF:
        # A real PDF ends with %%EOF (possibly followed by whitespace or an update marker).
        if b"%%EOF" not in content[-1024:]:
            raise _invalid("The file is not a valid PDF document.", "invalid_file_type")
    else:
        cost = _inspect_image(content, content_type)
    name = os.path.basename(str(getattr(upload, "name", "") or ""))[:255]
    return PendingDocument(kind=kind, content=content, content_type=content_type,
                           original_name=name, decoded_bytes=cost)


def documents_within_budget(documents: list[PendingDocument]) -> None:
    """All images of one request together may decode to KYC_UPLOAD_MAX_DECODED_BYTES at most.
    Raises ValidationError upload_too_large."""
    budget = int(getattr(settings, "KYC_UPLOAD_MAX_DECODED_BYTES", 192 * 1024 * 1024))
    if sum(d.decoded_bytes for d in documents) > budget:
        raise serializers.ValidationError(
            {"non_field_errors": [serializers.ErrorDetail(
                f"The images of one upload may decode to {budget} bytes at most.",
                code="upload_too_large")]})


def document_decode(pending: PendingDocument) -> CleanDocument:
    """Decode and re-encode an inspected image (PDFs pass as they are). Raises
    ValidationError invalid_file_type."""
    content = pending.content
    if pending.content_type != PDF:
        content = _clean_image(content, pending.content_type)
    return CleanDocument(kind=pending.kind, content=content, content_type=pending.content_type,
                         original_name=pending.original_name)


def document_clean(*, upload, kind: str) -> CleanDocument:
    """Validate one upload by its content (header first, then decode); return the bytes to
    store. Raises ValidationError (see document_inspect, document_decode)."""
    return document_decode(document_inspect(upload=upload, kind=kind))


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
