"""The three kinds of failure maildesk distinguishes.

- ``UserError``: something a person wrote (config, rules, a command line) is
  wrong. It carries one line per problem, naming the file and key or line;
  the CLI prints them and exits 2, never with a traceback.
- ``Quarantined``: a message cannot be handled; its raw bytes and the reason
  are kept and the source moves on.
- ``TryLater``: a dependency (database, relay) is unavailable right now; the
  source answers 4xx or exits 75 and retries later.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong in one place: ``where`` is a file, a key path or a line."""

    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}" if self.where else self.what


class UserError(Exception):
    """A mistake a person can fix; carries every problem found, not just the first."""

    def __init__(self, problems: Iterable[Problem] | str) -> None:
        if isinstance(problems, str):
            problems = [Problem("", problems)]
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class Quarantined(Exception):
    """A message that cannot be handled; ``reason`` is shown to the admin."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class TryLater(Exception):
    """A temporary failure: the caller should back off and retry."""
