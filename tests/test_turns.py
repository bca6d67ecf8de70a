"""Threads take turns at an SQLite file in arrival order (store/turns.py)."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import text

from maildesk.store.db import make_engine, session_factory, transaction
from maildesk.store.turns import Turns


def test_a_writer_that_begins_again_at_once_cannot_keep_the_file(tmp_path: Path) -> None:
    """As ingest reading a backlog against the outbox sender: without turns the
    sender polls (busy timeout) and finds the file taken nearly every time."""
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    sessions = session_factory(engine)
    with transaction(sessions) as session:
        session.execute(text("CREATE TABLE t (n INTEGER)"))
    asked = threading.Event()
    done = threading.Event()
    began = [0]  # units of work the busy thread began since the other asked

    def busy() -> None:
        n = 0
        while not done.is_set():
            with transaction(sessions) as session:
                if asked.is_set():
                    began[0] += 1
                for _ in range(20):
                    session.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
            n += 1

    worker = threading.Thread(target=busy)
    worker.start()
    waited: list[int] = []
    try:
        going = 0
        while not going:  # until the busy thread has committed once
            with transaction(sessions) as session:
                going = session.execute(text("SELECT count(*) FROM t")).scalar_one()
        for _ in range(20):
            began[0] = 0
            asked.set()
            with transaction(sessions) as session:
                session.execute(text("INSERT INTO t VALUES (-1)"))
                waited.append(began[0])
            asked.clear()
    finally:
        done.set()
        worker.join()
        engine.dispose()
    # Each time, the one in progress and perhaps one that had queued already; never more.
    assert max(waited) <= 2, waited


def test_a_unit_of_work_inside_another_on_the_same_thread_goes_on(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    sessions = session_factory(engine)
    with transaction(sessions) as outer:
        outer.execute(text("CREATE TABLE t (n INTEGER)"))
        with transaction(sessions) as inner:
            assert inner.execute(text("SELECT 1")).scalar() == 1
    with transaction(sessions) as later:
        assert later.execute(text("SELECT count(*) FROM t")).scalar() == 0
    engine.dispose()


def test_a_turn_held_too_long_is_not_waited_for_forever() -> None:
    """A holder that waits for another thread of ours would otherwise hang both."""
    turns = Turns(patience=0.2)
    holding = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with turns.turn():
            holding.set()
            release.wait(10)

    first = threading.Thread(target=holder)
    first.start()
    holding.wait(10)
    went_on = False
    with turns.turn():
        went_on = not release.is_set()  # inside, while the holder still holds
    release.set()
    first.join()
    assert went_on
    with turns.turn():  # and the queue is whole again afterwards
        pass
