"""Demo KYC state: bob is verified (approved application), alice has not applied yet.

With the default KYC_WITHDRAWAL_THRESHOLD of 0, alice cannot withdraw until she is
verified: that is intended.
"""

from __future__ import annotations

import io

from django.utils import timezone
from PIL import Image

from users.models import User

from .documents import document_clean
from .models import DocumentKind, KYCApplication, KYCStatus
from .services import kyc_application_approve, kyc_application_submit


class _Upload:
    def __init__(self, name: str, content: bytes):
        self.name, self._content, self.size = name, content, len(content)

    def chunks(self):
        yield self._content


def _png(colour: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(out, format="PNG")
    return out.getvalue()


def seed(*, stdout) -> list[str]:
    bob = User.objects.filter(username="bob").first()
    officer = User.objects.filter(username="compliance").first()
    if bob is None or officer is None:
        return []
    if not KYCApplication.objects.filter(player=bob, status=KYCStatus.APPROVED).exists():
        now = timezone.now()
        if not KYCApplication.objects.filter(player=bob).exists():
            docs = [
                document_clean(upload=_Upload("passport.png", _png("navy")),
                               kind=DocumentKind.PASSPORT),
                document_clean(upload=_Upload("selfie.png", _png("tan")),
                               kind=DocumentKind.SELFIE),
            ]
            kyc_application_submit(player=bob, documents=docs, now=now)
        pending = KYCApplication.objects.filter(
            player=bob, status__in=[KYCStatus.SUBMITTED, KYCStatus.IN_REVIEW]).first()
        if pending is not None:
            kyc_application_approve(application_id=pending.pk, actor=officer,
                                    reason="demo data: documents checked", now=now)
    return ["kyc     bob verified (approved KYC); alice not verified: she cannot withdraw "
            "until a compliance officer approves her application"]
