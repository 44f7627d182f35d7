from drf_spectacular.openapi import AutoSchema as BaseAutoSchema


class AutoSchema(BaseAutoSchema):
    """Name nested Input/Output serializers after their view: `WithdrawalCreateApiInput`."""

    def get_serializer_name(self, serializer, direction):
        qualname = serializer.__class__.__qualname__
        if "." in qualname:
            return "".join(part.removesuffix("Serializer") for part in qualname.split(".")
                           if part != "<locals>")
        return super().get_serializer_name(serializer, direction)
