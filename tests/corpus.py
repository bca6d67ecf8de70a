"""The shared mail corpus, read in place: $MAILDESK_CORPUS, else ../shared/corpus.

Tests skip when it is absent, except under MAILDESK_REQUIRE_SERVERS (CI),
where a missing corpus fails the run at once (conftest.py): hundreds of
cases would otherwise vanish without a failure.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from tests.support.need import missing

CORPUS = Path(
    os.environ.get("MAILDESK_CORPUS")
    or Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
)
HOW = "set MAILDESK_CORPUS to the shared corpus folder (the one with INDEX.tsv)"


def present() -> bool:
    return (CORPUS / "INDEX.tsv").is_file()


@dataclass(frozen=True)
class Sample:
    path: Path
    category: str
    form: str
    note: str

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def expected(self) -> Path | None:
        oracle = self.path.with_name(self.path.name.removesuffix(".eml") + ".expected.txt")
        return oracle if oracle.exists() else None


def samples() -> list[Sample]:
    index = CORPUS / "INDEX.tsv"
    if not index.exists():
        return []
    with index.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [Sample(CORPUS / r["path"], r["category"], r["form"], r["note"]) for r in rows]


def need_corpus() -> None:
    if not present():
        missing(f"the shared mail corpus at {CORPUS}", HOW)


def ids(items: list[Sample]) -> list[str]:
    return [s.path.relative_to(CORPUS).as_posix() for s in items]
