"""The admin's list of known customers (YAML or CSV): address or @domain -> attributes."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from maildesk import yamlsafe
from maildesk.errors import Problem
from maildesk.routing.facts import CustomerInfo

COLUMNS = ("address", "category", "organization", "language")


@dataclass(frozen=True)
class CustomerDirectory:
    by_address: dict[str, CustomerInfo] = field(default_factory=dict)
    by_domain: dict[str, CustomerInfo] = field(default_factory=dict)

    def lookup(self, address: str) -> CustomerInfo | None:
        """An address entry wins over its domain's entry."""
        address = address.lower()
        found = self.by_address.get(address)
        return found if found is not None else self.by_domain.get(address.rpartition("@")[2])


def load_customers(path: Path | None) -> tuple[CustomerDirectory, list[Problem]]:
    if path is None:
        return CustomerDirectory(), []
    if not path.exists():
        return CustomerDirectory(), [Problem(str(path), "customers file not found")]
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return CustomerDirectory(), [Problem(str(path), f"cannot read: {exc}")]
    if path.suffix.lower() == ".csv":
        return _entries(
            path, [(n + 2, row) for n, row in enumerate(csv.DictReader(io.StringIO(text)))]
        )
    too_big = yamlsafe.size_problem(text)
    if too_big is not None:
        return CustomerDirectory(), [Problem(str(path), too_big)]
    try:
        data = yamlsafe.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 0
        return CustomerDirectory(), [Problem(f"{path}:{line}", f"invalid YAML: {exc.problem}")]
    if data is None:
        return CustomerDirectory(), []
    if not isinstance(data, list):
        return CustomerDirectory(), [Problem(str(path), "expected a list of customers")]
    return _entries(path, [(None, item) for item in data])


def _entries(
    path: Path, rows: list[tuple[int | None, Any]]
) -> tuple[CustomerDirectory, list[Problem]]:
    directory = CustomerDirectory()
    problems: list[Problem] = []
    for index, (line, row) in enumerate(rows):
        where = f"{path}:{line}" if line else f"{path}: entry {index + 1}"
        if not isinstance(row, dict):
            problems.append(Problem(where, "expected address, category, organization, language"))
            continue
        unknown = [k for k in row if k not in COLUMNS]
        if unknown:
            problems.append(
                Problem(where, f"unknown field {unknown[0]!r} (fields: {', '.join(COLUMNS)})")
            )
            continue
        address = str(row.get("address") or "").strip().lower()
        if "@" not in address:
            problems.append(
                Problem(where, f"address must be name@domain or @domain, got {address!r}")
            )
            continue
        info = CustomerInfo(
            category=str(row["category"]).strip() if row.get("category") else None,
            organization=str(row["organization"]).strip() if row.get("organization") else None,
            language=str(row["language"]).strip() if row.get("language") else None,
        )
        if address.startswith("@"):
            directory.by_domain[address[1:]] = info
        else:
            directory.by_address[address] = info
    return directory, problems
