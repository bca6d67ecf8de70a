"""The fixed moment store tests start from."""

from __future__ import annotations

from datetime import UTC, datetime

T0 = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
