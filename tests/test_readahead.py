"""readahead.py: an archive's groups parsed in a worker come back in order, the same
as parsed here, and a worker that dies leaves the import to parse in-process."""

from __future__ import annotations

import os
import signal

from maildesk.intake import read_mail
from maildesk.parse import Limits
from maildesk.readahead import ReadAhead


def group(first: int, count: int) -> list[bytes]:
    return [
        (
            f"From: c{n}@example.org\r\nTo: support@example.com\r\nSubject: Question {n}\r\n"
            f"Message-ID: <ahead-{n}@example.org>\r\n\r\nText number {n}.\r\n"
        ).encode()
        for n in range(first, first + count)
    ]


GROUPS = [group(n * 10, 10) for n in range(7)] + [[b"\xff\xfe not a mail at all"]]


def test_groups_come_back_in_order_parsed_as_here() -> None:
    limits = Limits()
    with ReadAhead(limits, workers=1) as ahead:
        assert ahead.pool is not None
        got = list(ahead.read(iter(GROUPS)))
    assert [raws for raws, _ in got] == GROUPS
    for raws, reads in got:
        assert reads == [read_mail(raw, limits) for raw in raws]
    assert got[0][1][3].mail is not None and got[0][1][3].mail.subject == "Question 3"


def test_a_killed_worker_leaves_the_parsing_to_this_process() -> None:
    limits = Limits()
    with ReadAhead(limits, workers=1) as ahead:
        assert ahead.pool is not None
        for pid in list(ahead.pool._processes):  # the worker, as the OOM killer would
            os.kill(pid, signal.SIGKILL)
        got = list(ahead.read(iter(GROUPS)))
        assert ahead.pool is None
    assert [raws for raws, _ in got] == GROUPS
    assert [len(reads) for _, reads in got] == [len(g) for g in GROUPS]
    assert all(r.mail is not None for r in got[2][1])


def test_without_a_worker_the_groups_are_parsed_here() -> None:
    with ReadAhead(Limits(), workers=0) as ahead:
        assert ahead.pool is None
        got = list(ahead.read(iter(GROUPS[:2])))
    assert [len(reads) for _, reads in got] == [10, 10]
