"""Threads of one process take turns at an SQLite file, first come first served.

SQLite has one write lock per file, and a connection that finds it taken
polls for it (the busy timeout) with sleeps of up to 100 ms. A thread that
commits and begins again at once, as ingest does while it reads a backlog,
then wins nearly every time, and the outbox sender waits for as long as the
backlog lasts. Queueing in the process first hands the file over at each
commit, in arrival order. (Other processes still meet the busy timeout.)
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

PATIENCE = 30.0  # seconds, as SQLite's busy timeout (store/db.py)


class Turns:
    def __init__(self, patience: float = PATIENCE) -> None:
        self.patience = patience
        self._changed = threading.Condition()
        self._waiting: deque[int] = deque()  # thread idents, the holder first
        self._depth = 0  # a thread inside its own turn (nested units of work)

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Wait for our turn, but not for ever: past ``patience`` (a holder that waits
        on another thread of ours, say) go on without it and let SQLite's own busy
        timeout decide, as it would without turns."""
        me = threading.get_ident()
        with self._changed:
            if self._waiting and self._waiting[0] == me:
                self._depth += 1
                held = True
            else:
                self._waiting.append(me)
                held = self._changed.wait_for(lambda: self._waiting[0] == me, self.patience)
                if held:
                    self._depth = 1
                else:
                    self._waiting.remove(me)
                    self._changed.notify_all()
        try:
            yield
        finally:
            if held:
                with self._changed:
                    self._depth -= 1
                    if self._depth == 0:
                        self._waiting.popleft()
                        self._changed.notify_all()
