"""OpenAPI descriptions of our authentication classes (drf-spectacular extensions)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "users.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http", "scheme": "bearer",
            "description": "A key from POST /api/v1/auth/token/ (staff: password + TOTP code). "
                           "Expires after an idle and an absolute limit; see docs/auth.md.",
        }


class OTPVerifiedSessionScheme(OpenApiAuthenticationExtension):
    target_class = "users.authentication.OTPVerifiedSessionAuthentication"
    name = "staffSession"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid",
                "description": "The admin session after password + TOTP (with CSRF)."}
