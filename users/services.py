from __future__ import annotations

from django.contrib.auth import authenticate, password_validation
from django.contrib.auth.signals import user_logged_in
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from common.hooks import hooks_run

from .errors import InvalidCredentials, UsernameTaken
from .models import User


def user_register(*, username: str, email: str, password: str) -> User:
    """Create a player account. Raises UsernameTaken, django ValidationError for a weak
    password, and whatever the registration checks raise (the external self-exclusion
    register: 403 externally_excluded, 503 exclusion_register_unavailable)."""
    candidate = User(username=username, email=email)
    password_validation.validate_password(password, user=candidate)
    # Before the transaction: a check may call an external register.
    hooks_run("USER_REGISTRATION_CHECKS", email=email, username=username)
    candidate.set_password(password)
    try:
        with transaction.atomic(durable=True):
            if User.objects.filter(username__iexact=username).exists() or User.objects.filter(
                email__iexact=email
            ).exists():
                raise UsernameTaken()
            candidate.save()
    except IntegrityError:
        raise UsernameTaken() from None
    hooks_run("USER_REGISTERED_HOOKS", user=candidate, now=timezone.now())
    return candidate


def token_issue(*, username: str, password: str, request=None) -> str:
    """Return the user's API token. Raises InvalidCredentials."""
    user = authenticate(request, username=username, password=password)
    if user is None or not user.is_active:
        raise InvalidCredentials()
    # A token is a login: Django records last_login and django-axes an access log row
    # (what the player page shows as "Logged in ... via API").
    user_logged_in.send(sender=user.__class__, request=request, user=user)
    hooks_run("USER_LOGIN_HOOKS", user=user, now=timezone.now())
    token, _ = Token.objects.get_or_create(user=user)
    return token.key
