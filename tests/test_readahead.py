"""readahead.py: an archive's groups parsed in a worker come back in order, the same
as parsed here, and a worker that dies leaves the import to parse in-process."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from maildesk.config.model import Settings
from maildesk.desk import Desk, limits_of
from maildesk.intake import read_mail
from maildesk.readahead import ReadAhead
from maildesk.routing.router import Router
from tests.support.mailout import settings_for


def group(first: int, count: int) -> list[bytes]:
    return [
        (
            f"From: c{n}@example.org\r\nTo: support@example.com\r\nSubject: Question {n}\r\n"
            f"Message-ID: <ahead-{n}@example.org>\r\n\r\nText number {n}.\r\n"
        ).encode()
        for n in range(first, first + count)
    ]


GROUPS = [group(n * 10, 10) for n in range(7)] + [[b"\xff\xfe not a mail at all"]]


def settings(tmp_path: Path) -> Settings:
    return settings_for(tmp_path, f"sqlite:///{tmp_path / 'unused.db'}", {"spool_dir": "out"})


def test_groups_come_back_in_order_parsed_and_judged_as_here(tmp_path: Path) -> None:
    config = settings(tmp_path)
    limits = limits_of(config)
    desk = Desk.build(config, Router.load(config)[0])
    with ReadAhead(config, workers=1) as ahead:
        assert ahead.pool is not None
        got = list(ahead.read(iter(GROUPS)))
    assert [raws for raws, _ in got] == GROUPS
    for raws, reads in got:
        here = [read_mail(raw, limits) for raw in raws]
        assert [r.mail for r in reads] == [r.mail for r in here]
        assert [r.problem for r in reads] == [r.problem for r in here]
        # Judged there as the store would judge them here; the unreadable one is not.
        assert [r.verdict for r in reads] == [desk.judge(r.mail) if r.mail else None for r in here]
    assert got[0][1][3].mail is not None and got[0][1][3].mail.subject == "Question 3"
    assert got[-1][1][0].mail is None and got[-1][1][0].verdict is None


def test_a_killed_worker_leaves_the_parsing_to_this_process(tmp_path: Path) -> None:
    with ReadAhead(settings(tmp_path), workers=1) as ahead:
        assert ahead.pool is not None
        for pid in list(ahead.pool._processes):  # the worker, as the OOM killer would
            os.kill(pid, signal.SIGKILL)
        got = list(ahead.read(iter(GROUPS)))
        assert ahead.pool is None
    assert [raws for raws, _ in got] == GROUPS
    assert [len(reads) for _, reads in got] == [len(g) for g in GROUPS]
    assert all(r.mail is not None for r in got[2][1])


def test_without_a_worker_the_groups_are_parsed_here(tmp_path: Path) -> None:
    with ReadAhead(settings(tmp_path), workers=0) as ahead:
        assert ahead.pool is None
        got = list(ahead.read(iter(GROUPS[:2])))
    assert [len(reads) for _, reads in got] == [10, 10]
