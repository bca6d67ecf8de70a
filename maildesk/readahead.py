"""An archive's next groups parsed in a second process while this one stores.

Parsing is a pure stage (intake.read_mail) and a quarter of an import's time;
the store is one writer. With two cores or more, `maildesk import` hands the
parsing of the groups ahead to one forked worker and stores the current group
meanwhile. The worker only parses: it opens no database and sends nothing.
If it cannot start or dies, the groups are parsed here, as with one core.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor

from maildesk.intake import Read, read_mail
from maildesk.parse import Limits

log = logging.getLogger("maildesk.import")
AHEAD = 2  # groups parsed ahead at most: memory stays a few groups' worth


def read_all(raws: list[bytes], limits: Limits) -> list[Read]:
    return [read_mail(raw, limits) for raw in raws]


class ReadAhead:
    """``read(groups)`` yields each group with its reads, in order.

    Start it before the database is opened, so that the fork copies no connection.
    """

    def __init__(self, limits: Limits, workers: int | None = None) -> None:
        self.limits = limits
        wanted = workers if workers is not None else (1 if (os.cpu_count() or 1) > 1 else 0)
        self.pool: ProcessPoolExecutor | None = None
        if wanted > 0 and "fork" in multiprocessing.get_all_start_methods():
            self.pool = ProcessPoolExecutor(wanted, mp_context=multiprocessing.get_context("fork"))
            self.pool.submit(len, b"").result()  # forked now, before any connection

    def read(self, groups: Iterable[list[bytes]]) -> Iterator[tuple[list[bytes], list[Read]]]:
        pending: deque[tuple[list[bytes], Future[list[Read]] | None]] = deque()
        for group in groups:
            pending.append((group, self._submit(group)))
            if len(pending) > AHEAD:
                yield self._done(*pending.popleft())
        while pending:
            yield self._done(*pending.popleft())

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _submit(self, group: list[bytes]) -> Future[list[Read]] | None:
        if self.pool is None:
            return None
        try:
            return self.pool.submit(read_all, group, self.limits)
        except RuntimeError:  # a broken pool: parse here from now on
            self.pool = None
            return None

    def _done(
        self, group: list[bytes], future: Future[list[Read]] | None
    ) -> tuple[list[bytes], list[Read]]:
        if future is not None:
            try:
                return group, future.result()
            except Exception as exc:  # the worker died (killed, out of memory): parse here
                log.warning("the parsing worker failed (%s); parsing in this process", exc)
                self.pool = None
        return group, read_all(group, self.limits)
