"""Registered in settings (USER_REGISTRATION_ATTRIBUTION_HOOKS): users never imports us."""

from .services import affiliate_attribute


def registration_attribute(*, user, affiliate_code: str, now, **_) -> None:
    affiliate_attribute(player=user, affiliate_code=affiliate_code, now=now)
