"""An archive's next groups parsed in a second process while this one stores.

Parsing and the guards' verdict are pure stages (intake.read_mail, Desk.judge)
and a quarter of an import's time; the store is one writer. With two cores or
more, `maildesk import` hands them for the groups ahead to one forked worker
and stores the current group meanwhile. The worker opens no database and sends
nothing. If it cannot start or dies, the groups are read here, as with one core.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import replace

from maildesk.config.model import Settings
from maildesk.desk import Desk, limits_of
from maildesk.intake import Read, read_mail
from maildesk.parse import Limits
from maildesk.routing.router import Router

log = logging.getLogger("maildesk.import")
AHEAD = 2  # groups parsed ahead at most: memory stays a few groups' worth


# The worker's own, set once as it starts (_start): its limits, and a desk for the guards.
_limits = Limits()
_desk: Desk | None = None


def _start(settings: Settings) -> None:
    global _limits, _desk
    _limits = limits_of(settings)
    router, problems = Router.load(settings)
    _desk = None if problems else Desk.build(settings, router)


def read_all(raws: list[bytes]) -> list[Read]:
    """In the worker: each mail parsed, and judged (else the store judges it)."""
    return [_judged(read_mail(raw, _limits)) for raw in raws]


def _judged(read: Read) -> Read:
    if _desk is None or read.mail is None:
        return read
    try:
        return replace(read, verdict=_desk.judge(read.mail))
    except Exception:  # a guard's bug: the store's own judging meets it, and quarantines
        return read


class ReadAhead:
    """``read(groups)`` yields each group with its reads, in order.

    Start it before the database is opened, so that the fork copies no connection.
    """

    def __init__(self, settings: Settings, workers: int | None = None) -> None:
        self.settings = settings
        wanted = workers if workers is not None else (1 if (os.cpu_count() or 1) > 1 else 0)
        self.pool: ProcessPoolExecutor | None = None
        if wanted > 0 and "fork" in multiprocessing.get_all_start_methods():
            self.pool = ProcessPoolExecutor(
                wanted,
                mp_context=multiprocessing.get_context("fork"),
                initializer=_start,
                initargs=(settings,),
            )
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
            return self.pool.submit(read_all, group)
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
        limits = limits_of(self.settings)
        return group, [read_mail(raw, limits) for raw in group]
