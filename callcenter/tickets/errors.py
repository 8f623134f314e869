"""Errors of tickets (the core and the service), each with a stable `error_id` the HTTP edge
maps."""

from __future__ import annotations

from callcenter.errors import CallcenterError


class TicketError(CallcenterError):
    """A ticket rule was broken; the ticket is unchanged."""

    status = 400
    error_id = "ticket.error"


class IllegalTransition(TicketError):
    """The action is not possible from the ticket's current status."""

    status = 409
    error_id = "ticket.illegal_transition"


class NotAllowed(TicketError):
    """The actor's role (or department) may not perform the action."""

    status = 403
    error_id = "ticket.not_allowed"


class MissingField(TicketError):
    """A mandatory field of the action (reason, reply text, note) is empty."""

    error_id = "ticket.missing_field"


class InvalidAction(TicketError):
    """The action is possible in principle but its content breaks a rule."""

    error_id = "ticket.invalid_action"


class UnknownRequestType(TicketError):
    """No deadline rule exists for the request type."""

    error_id = "ticket.unknown_request_type"


class TicketNotFound(TicketError):
    """No such ticket (or none the caller may see)."""

    status = 404
    error_id = "ticket.not_found"


class StaleTicket(TicketError):
    """The ticket changed since the version the caller read (optimistic locking)."""

    status = 409
    error_id = "ticket.conflict"


class NoDataKey(TicketError):
    """An ID-card or phone number came in but no encryption key is configured: nothing is
    written."""

    status = 503
    error_id = "data.no_key"
