"""Rule files: read ``rules/*.yaml`` in name order and check their shape.

Each file is a YAML list of rules; a rule is a mapping with ``name``,
``when``, ``then`` and optional ``stop``. Problems name the file and line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from maildesk.errors import Problem

RULE_KEYS = ("name", "when", "then", "stop")
RULE_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class RuleFile:
    path: Path
    rules: tuple[dict[str, Any], ...]


def rule_paths(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in RULE_SUFFIXES)


def rule_problems(folder: Path) -> list[Problem]:
    if not folder.is_dir():
        return [Problem(str(folder), "rules folder not found")]
    problems: list[Problem] = []
    for path in rule_paths(folder):
        problems.extend(file_problems(path))
    return problems


def file_problems(path: Path) -> list[Problem]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [Problem(str(path), f"cannot read: {exc}")]
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 0
        return [Problem(f"{path}:{line}", f"invalid YAML: {exc.problem}")]
    if root is None:
        return []
    if not isinstance(root, yaml.SequenceNode):
        return [Problem(_at(path, root), "expected a list of rules (each starting with '- name:')")]
    problems = []
    for item in root.value:
        problems.extend(_rule_problems(path, item))
    return problems


def _rule_problems(path: Path, node: yaml.Node) -> list[Problem]:
    if not isinstance(node, yaml.MappingNode):
        return [Problem(_at(path, node), "a rule must be a mapping with name, when and then")]
    keys = {k.value: (k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)}
    problems = [
        Problem(_at(path, k), f'unknown key "{name}" (rule keys: {", ".join(RULE_KEYS)})')
        for name, (k, _) in keys.items()
        if name not in RULE_KEYS
    ]
    for required in ("name", "then"):
        if required not in keys:
            problems.append(Problem(_at(path, node), f'rule has no "{required}"'))
    if "name" in keys and not isinstance(keys["name"][1], yaml.ScalarNode):
        problems.append(Problem(_at(path, keys["name"][1]), "name must be a string"))
    for table in ("when", "then"):
        if table in keys and not isinstance(keys[table][1], yaml.MappingNode):
            problems.append(Problem(_at(path, keys[table][1]), f"{table} must be a mapping"))
    return problems


def _at(path: Path, node: yaml.Node) -> str:
    return f"{path}:{node.start_mark.line + 1}"
