"""Which ticket a message belongs to. For now: the subject token."""

from __future__ import annotations


def ticket_token(token_format: str, ticket_id: int) -> str:
    """The token put in subjects, e.g. ``[#1042]`` for ``[#{id}]``."""
    return token_format.format(id=ticket_id)
