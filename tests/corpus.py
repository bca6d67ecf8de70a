"""The shared mail corpus (../shared/corpus), read in place; tests skip when it is absent."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"


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
    if not (CORPUS / "INDEX.tsv").exists():
        pytest.skip(f"the shared mail corpus is not at {CORPUS}")


def ids(items: list[Sample]) -> list[str]:
    return [s.path.relative_to(CORPUS).as_posix() for s in items]
