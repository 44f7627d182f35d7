from rest_framework.authentication import TokenAuthentication

from common.replica import current_player_id


class BearerTokenAuthentication(TokenAuthentication):
    """`Authorization: Bearer <token>` with DRF's token table."""

    keyword = "Bearer"

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        current_player_id.set(user.pk)
        return user, token
