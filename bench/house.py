"""The shape of the house: long files, import cycles, up-arrows, and the path of a mail.

Static numbers come from the import graph (tests/support/imports.py, the same
reader tests/test_layering.py checks). The path is traced: a new mail and a
customer's reply go through the desk's ingest on a fresh SQLite database with
the starter rules, and every call from one maildesk module into another is a
stop; a stop that enters a higher layer than the caller's climbs back up.
Prints a table; nothing here is a test.

    .venv/bin/python bench/house.py [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import tomllib
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import imports

MAIL = (
    "From: Alice <alice@example.org>\r\nTo: support@example.com\r\n"
    "Subject: {subject}\r\nMessage-ID: <{id}@example.org>\r\n"
    "Date: Fri, 20 Nov 2026 09:00:00 +0000\r\n\r\n{body}\r\n"
)


def _desk(root: Path) -> Any:
    from maildesk.clock import FixedClock
    from maildesk.config import settings_from_mapping
    from maildesk.starter import CONFIG, starter_dir
    from maildesk.store.db import make_engine, session_factory
    from maildesk.store.schema import upgrade

    url = f"sqlite:///{root / 'desk.db'}"
    engine = make_engine(url)
    upgrade(engine)
    # The starter desk `maildesk init` writes: its rules, templates, tiers and policies.
    config = tomllib.loads(CONFIG.read_text(encoding="utf-8"))
    config["database"] = {"url": url}
    config["smtp"] = {**config.get("smtp", {}), "spool_dir": str(root / "out")}
    config["paths"] = {
        **config.get("paths", {}),
        "rules": str(starter_dir("rules")),
        "templates": str(starter_dir("templates")),
        "customers": str(CONFIG.parent / "customers.yaml"),
    }
    settings = settings_from_mapping(config, name="bench.toml", base=root)
    try:
        from maildesk.intake import Intake as Desk
    except ImportError:  # the house before issue 18
        from maildesk.pipeline import Pipeline as Desk  # type: ignore[no-redef]
    clock = FixedClock(datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    return Desk(settings, session_factory(engine), clock)


def traced(desk: Any, raw: bytes) -> tuple[list[tuple[str, str]], Any]:
    """(caller module, callee module) for every call that crosses a module."""
    stops: list[tuple[str, str]] = []

    def profile(frame: FrameType, event: str, _arg: object) -> None:
        if event != "call":
            return
        callee = frame.f_globals.get("__name__", "")
        caller_frame = frame.f_back
        caller = caller_frame.f_globals.get("__name__", "") if caller_frame else ""
        if callee.startswith("maildesk") and caller.startswith("maildesk") and callee != caller:
            stops.append((caller, callee))

    sys.setprofile(profile)
    try:
        outcome = desk.ingest(raw, "bench")
    finally:
        sys.setprofile(None)
    return stops, outcome


def path_numbers(stops: list[tuple[str, str]]) -> dict[str, Any]:
    """Calls into the bottom layer (records, errors, charsets, config) are like calls
    into the standard library: not counted as stops."""
    bottom = len(imports.LAYERS) - 1
    stops = [(a, b) for a, b in stops if (imports.place(b) or (0, 0))[0] != bottom]
    entered = Counter(callee for _, callee in stops)
    climbs = 0
    for caller, callee in stops:
        here, there = imports.place(caller), imports.place(callee)
        if here is not None and there is not None and there[0] < here[0]:
            climbs += 1
    return {
        "stops": len(stops),
        "modules": len({m for pair in stops for m in pair}),
        "climbs": climbs,
        "most_entered": entered.most_common(1)[0] if entered else ("", 0),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="one JSON object")
    args = parser.parse_args()
    edges = imports.graph()
    found = {
        "files over 400 lines": [f"{f} ({n})" for f, n in imports.long_files()],
        "cycles": [" ~ ".join(c) for c in imports.cycles(edges)],
        "up-arrows": [str(a) for a in imports.up_arrows(edges)],
        "modules": len(edges),
    }
    with tempfile.TemporaryDirectory() as tmp:
        desk = _desk(Path(tmp))
        desk.ingest(MAIL.format(subject="warm up", id="w", body="x").encode(), "bench")
        new_stops, first = traced(
            desk, MAIL.format(subject="Printer", id="a", body="It burns.").encode()
        )
        reply = MAIL.format(subject=f"Re: [#{first.ticket_id}] Printer", id="b", body="Still.")
        reply_stops, _ = traced(desk, reply.encode())
    found["new mail"] = path_numbers(new_stops)
    found["customer reply"] = path_numbers(reply_stops)
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    print(f"{'measure':<34} value")
    print(f"{'modules in maildesk/':<34} {found['modules']}")
    print(f"{'files over 400 lines':<34} {len(found['files over 400 lines'])}")
    for line in found["files over 400 lines"]:
        print(f"{'':<36}{line}")
    print(f"{'import cycles':<34} {len(found['cycles'])}")
    for line in found["cycles"]:
        print(f"{'':<36}{line}")
    print(f"{'up-arrows':<34} {len(found['up-arrows'])}")
    for line in found["up-arrows"]:
        print(f"{'':<36}{line}")
    for name in ("new mail", "customer reply"):
        n = found[name]
        most, times = n["most_entered"]
        print(f"{name + ': modules passed':<34} {n['modules']}")
        print(f"{name + ': stops (calls across)':<34} {n['stops']}")
        print(f"{name + ': stops climbing up':<34} {n['climbs']}")
        print(f"{name + ': most entered':<34} {most} ({times}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
