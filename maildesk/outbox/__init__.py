"""Outgoing mail: composed into the outbox table, sent by the sender."""
