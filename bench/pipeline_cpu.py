"""The pipeline's own cost per message, in one process: bench/mailgen.py's corpus
through the intake into SQLite, acknowledgements and notifications composed and
queued, with no IMAP, no sending and no fsync in the way (the wall-clock ingest
of bench/ingest.py on a shared machine moves by more than what is measured here).

    .venv/bin/python bench/pipeline_cpu.py [--messages 1000] [--rounds 3] [--html on,off]

Each round is a fresh database; rounds alternate between the settings compared
(``--html``: [outbox] html on and off), and the table gives each one's msg/s by
CPU time (process_time) and by wall time, the median of the rounds and their
spread. Run it from another checkout to compare two versions of the code: it
imports the maildesk next to it.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import mailgen
from maildesk.clock import FixedClock
from maildesk.intake import Intake
from maildesk.store.db import make_engine, session_factory
from maildesk.store.schema import upgrade
from tests.support.mailout import settings_for
from tests.support.pipeline import T0


def one_round(raws: list[bytes], html: bool | None) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        engine = make_engine(f"sqlite:///{folder / 'maildesk.db'}")
        upgrade(engine)
        settings = settings_for(folder, str(engine.url), {"host": "127.0.0.1", "port": 25})
        if html is not None:
            outbox = settings.outbox.model_copy(update={"html": html})
            settings = settings.model_copy(update={"outbox": outbox})
        intake = Intake(settings, session_factory(engine), FixedClock(T0))
        cpu, wall = time.process_time(), time.perf_counter()
        for raw in raws:
            intake.ingest(raw, "bench")
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        engine.dispose()
    return len(raws) / cpu, len(raws) / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--html", default="on,off", help="on, off, or on,off")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    raws = list(mailgen.messages(args.messages))
    variants = {"on": True, "off": False}
    compared = [v for v in args.html.split(",") if v]
    from maildesk.config.model import Outbox

    if "html" not in Outbox.model_fields:  # a checkout from before HTML mail
        compared = ["(no html)"]
    results: dict[str, list[tuple[float, float]]] = {v: [] for v in compared}
    for _ in range(args.rounds):
        for variant in compared:
            results[variant].append(one_round(raws, variants.get(variant)))
    print(f"{args.messages} messages, {args.rounds} rounds, Python {sys.version.split()[0]}\n")
    print(f"{'html':<10} {'cpu msg/s':>10} {'spread':>14} {'wall msg/s':>11} {'spread':>14}")
    for variant, runs in results.items():
        cpu = sorted(r[0] for r in runs)
        wall = sorted(r[1] for r in runs)
        print(
            f"{variant:<10} {statistics.median(cpu):>10.0f} {f'{cpu[0]:.0f}-{cpu[-1]:.0f}':>14}"
            f" {statistics.median(wall):>11.0f} {f'{wall[0]:.0f}-{wall[-1]:.0f}':>14}"
        )


if __name__ == "__main__":
    main()
