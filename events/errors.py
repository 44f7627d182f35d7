"""Stable error codes of the events app."""

from common.errors import DomainError, NotFound


class UnknownConsumer(DomainError):
    code = "unknown_consumer"
    status_code = 400
    default_detail = "No consumer has this name."


class EventNotFound(NotFound):
    code = "event_not_found"
    default_detail = "No outbox event has this id."
