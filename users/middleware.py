"""Staff admin sessions end after AUTH_STAFF_SESSION_IDLE_S without a request and, whatever
happens, AUTH_STAFF_SESSION_MAX_AGE_S after the login (the cookie's own age is the same).

Only session logins are concerned (the admin): API requests carry no session cookie and
cost nothing here (an absent session is never loaded).
"""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import SESSION_KEY, logout

_LOGIN_AT = "_staff_login_at"
_SEEN_AT = "_staff_seen_at"
# The last-seen stamp is rewritten at most this often (a session save per request is waste).
_TOUCH_S = 30


def _logged_in(session) -> bool:
    return session.session_key is not None and SESSION_KEY in session


class StaffSessionLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None and _logged_in(session):
            now = time.time()
            login_at = session.get(_LOGIN_AT)
            seen_at = session.get(_SEEN_AT)
            if login_at is None:
                session[_LOGIN_AT] = session[_SEEN_AT] = now
            elif (now - float(login_at) > settings.AUTH_STAFF_SESSION_MAX_AGE_S
                  or now - float(seen_at or login_at) > settings.AUTH_STAFF_SESSION_IDLE_S):
                logout(request)  # flushes the session; the admin sends them to its login
            elif now - float(seen_at or 0) >= _TOUCH_S:
                session[_SEEN_AT] = now
        response = self.get_response(request)
        # Stamp a login in its own response (the admin's login view logs in mid-request).
        if session is not None and _logged_in(session) and _LOGIN_AT not in session:
            session[_LOGIN_AT] = session[_SEEN_AT] = time.time()
        return response
