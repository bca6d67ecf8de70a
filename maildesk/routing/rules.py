"""Rule files: ``rules/*.yaml`` read in name order and compiled once into a RuleSet.

Each file is a YAML list of rules; a rule is a mapping with ``name``,
``when``, ``then``, optional ``stop`` and ``on``. Every problem is reported
with its file and line; a file with problems yields no rules at all, so a
half-typed file never half-applies.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import regex
import yaml

from maildesk import yamlsafe
from maildesk.errors import Problem
from maildesk.mail import PRIORITIES
from maildesk.routing.conditions import (
    COMBINATORS,
    FIELDS,
    NUMBER_OPERATORS,
    OPERATORS,
    TEXT_OPERATORS,
    All,
    Always,
    Any_,
    Condition,
    Leaf,
    Not,
)
from maildesk.routing.ruleset import Actions, Known, Rule, RuleSet

RULE_KEYS = ("name", "when", "then", "stop", "on")
RULE_SUFFIXES = (".yaml", ".yml")
ACTIONS = (
    "tier",
    "priority",
    "tags",
    "assign",
    "sla",
    "customer_category",
    "acknowledge",
    "language",
    "notify",
    "survey",
)
_ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")


def rule_paths(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in RULE_SUFFIXES)


def load_rules(folder: Path, known: Known) -> tuple[RuleSet, list[Problem]]:
    """All rule files of a folder; problems make the whole set unusable for the caller."""
    if not folder.is_dir():
        return RuleSet(), [Problem(str(folder), "rules folder not found")]
    rules: list[Rule] = []
    problems: list[Problem] = []
    paths = rule_paths(folder)
    for path in paths:
        found, trouble = compile_file(path, known)
        rules.extend(found)
        problems.extend(trouble)
    return RuleSet(tuple(rules), tuple(paths)), problems


def rule_problems(folder: Path, known: Known | None = None) -> list[Problem]:
    return load_rules(folder, known or Known(check_names=False))[1]


def compile_file(path: Path, known: Known) -> tuple[list[Rule], list[Problem]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [Problem(str(path), f"cannot read: {exc}")]
    too_big = yamlsafe.size_problem(text)
    if too_big is not None:
        return [], [Problem(str(path), too_big)]
    loader: yaml.SafeLoader | None = None
    try:
        loader = yamlsafe.loader_for(text)
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 0
        return [], [Problem(f"{path}:{line}", f"invalid YAML: {exc.problem}")]
    finally:
        if loader is not None:
            loader.dispose()
    if root is None:
        return [], []
    compiler = _Compiler(path, known, loader)
    if not isinstance(root, yaml.SequenceNode):
        compiler.problem(root, "expected a list of rules (each starting with '- name:')")
        return [], compiler.problems
    rules = [r for item in root.value if (r := compiler.rule(item)) is not None]
    return (rules if not compiler.problems else []), compiler.problems


class _Compiler:
    def __init__(self, path: Path, known: Known, loader: yaml.SafeLoader) -> None:
        self.path, self.known, self.loader = path, known, loader
        self.problems: list[Problem] = []

    def problem(self, node: yaml.Node, what: str) -> None:
        self.problems.append(Problem(f"{self.path}:{node.start_mark.line + 1}", what))

    def value(self, node: yaml.Node) -> Any:
        return self.loader.construct_object(node, deep=True)

    def mapping(self, node: yaml.Node, what: str) -> dict[str, tuple[yaml.Node, yaml.Node]] | None:
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, f"{what} must be a mapping")
            return None
        items: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key, value in node.value:
            name = str(key.value) if isinstance(key, yaml.ScalarNode) else ""
            if name in items:
                self.problem(key, f'duplicate key "{name}" in {what}')
            items[name] = (key, value)
        return items

    def unknown(self, key: yaml.Node, name: str, allowed: tuple[str, ...], what: str) -> None:
        close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
        hint = f' (did you mean "{close[0]}"?)' if close else f" ({what}: {', '.join(allowed)})"
        self.problem(key, f'unknown key "{name}"{hint}')

    # --- rules ---------------------------------------------------------------

    def rule(self, node: yaml.Node) -> Rule | None:
        before = len(self.problems)
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, "a rule must be a mapping with name, when and then")
            return None
        items = self.mapping(node, "a rule") or {}
        for name, (key, _) in items.items():
            if name not in RULE_KEYS:
                self.unknown(key, name, RULE_KEYS, "rule keys")
        for required in ("name", "then"):
            if required not in items:
                self.problem(node, f'rule has no "{required}"')
        name = ""
        if "name" in items:
            value = self.value(items["name"][1])
            if not isinstance(value, str) or not value.strip():
                self.problem(items["name"][1], "name must be a non-empty string")
            else:
                name = value
        when: Condition = Always()
        if "when" in items:
            when = self.condition(items["when"][1], "when")
        then = self.actions(items["then"][1]) if "then" in items else Actions()
        stop = self.flag(items, "stop")
        on_reply = False
        if "on" in items:
            on = self.value(items["on"][1])
            if on not in ("new", "reply"):
                self.problem(items["on"][1], f'on must be "new" or "reply", got {on!r}')
            on_reply = on == "reply"
        if len(self.problems) > before:
            return None
        return Rule(
            name, f"{self.path.name}:{node.start_mark.line + 1}", when, then, stop, on_reply
        )

    def flag(self, items: dict[str, tuple[yaml.Node, yaml.Node]], key: str) -> bool:
        if key not in items:
            return False
        value = self.value(items[key][1])
        if not isinstance(value, bool):
            self.problem(items[key][1], f"{key} must be true or false, got {value!r}")
            return False
        return value

    # --- conditions ----------------------------------------------------------

    def condition(self, node: yaml.Node, where: str) -> Condition:
        items = self.mapping(node, where)
        if items is None:
            return Always()
        parts: list[Condition] = []
        for name, (key, value) in items.items():
            if name in ("all", "any"):
                if not isinstance(value, yaml.SequenceNode) or not value.value:
                    self.problem(value, f"{name} must be a list of conditions")
                    continue
                children = [self.condition(child, name) for child in value.value]
                parts.append(All(children) if name == "all" else Any_(children))
            elif name == "not":
                parts.append(Not(self.condition(value, "not")))
            elif name in FIELDS:
                leaf = self.leaf(name, value)
                if leaf is not None:
                    parts.append(leaf)
            else:
                self.unknown(key, name, (*COMBINATORS, *FIELDS), "conditions")
        if not parts:
            return Always()
        return parts[0] if len(parts) == 1 else All(parts)

    def leaf(self, field_name: str, node: yaml.Node) -> Leaf | None:
        kind = FIELDS[field_name][0]
        if kind == "number" and not isinstance(node, yaml.MappingNode):
            self.problem(
                node, f"{field_name} needs a comparison, e.g. {field_name}: {{at_least: 5}}"
            )
            return None
        if isinstance(node, yaml.ScalarNode):
            value = self.value(node)
            if kind == "bool":
                if not isinstance(value, bool):
                    self.problem(node, f"{field_name} must be true or false, got {value!r}")
                    return None
                return Leaf(field_name, "equals", value)
            if field_name == "header":
                self.problem(node, "header needs a mapping: {name: X-Header, OPERATOR: value}")
                return None
            return Leaf(field_name, "equals", value)
        if isinstance(node, yaml.SequenceNode):
            return Leaf(field_name, "in", self.value(node))
        items = self.mapping(node, field_name)
        if items is None:
            return None
        options: dict[str, Any] = {name: self.value(v) for name, (_, v) in items.items()}
        header = options.pop("name", None)
        ignore_case = options.pop("ignore_case", True)
        if field_name == "header" and not isinstance(header, str):
            self.problem(node, 'header needs name: (e.g. {name: X-Priority, equals: "1"})')
            return None
        if field_name != "header" and header is not None:
            self.problem(items["name"][0], f'"name" is only for header, not {field_name}')
        if not isinstance(ignore_case, bool):
            self.problem(items["ignore_case"][1], "ignore_case must be true or false")
            return None
        ops = [o for o in options if o in OPERATORS]
        for name in options:
            if name not in OPERATORS:
                self.unknown(items[name][0], name, (*OPERATORS, "ignore_case"), "operators")
        if len(ops) != 1:
            if not [n for n in options if n not in OPERATORS]:
                allowed = NUMBER_OPERATORS if kind == "number" else TEXT_OPERATORS
                self.problem(
                    node, f"{field_name} needs exactly one operator ({', '.join(allowed)})"
                )
            return None
        op = ops[0]
        value = options[op]
        where = items[op][1]
        if not self._operand_ok(field_name, kind, op, value, where):
            return None
        return Leaf(field_name, op, value, ignore_case=ignore_case, header=header)

    def _operand_ok(self, field_name: str, kind: str, op: str, value: Any, node: yaml.Node) -> bool:
        if kind == "number":
            if op not in NUMBER_OPERATORS:
                self.problem(node, f"{field_name} is a number: use at_least, below or exists")
                return False
            if op != "exists" and (not isinstance(value, int | float) or isinstance(value, bool)):
                self.problem(node, f"{op} needs a number, got {value!r}")
                return False
            if op != "exists":
                return True
        elif op in ("at_least", "below"):
            self.problem(node, f"{op} is for numbers (spam_score), not {field_name}")
            return False
        if kind == "bool" and op != "equals":
            self.problem(node, f"{field_name} is true or false: use {field_name}: true")
            return False
        if op == "exists" or kind == "bool":
            if not isinstance(value, bool):
                self.problem(node, f"{op} must be true or false, got {value!r}")
                return False
            return True
        if op == "in":
            if (
                not isinstance(value, list)
                or not value
                or not all(isinstance(v, str | int | float) for v in value)
            ):
                self.problem(node, "in needs a list of values, e.g. [a, b]")
                return False
            return True
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            self.problem(node, f"{op} needs a text value, got {value!r}")
            return False
        if op == "matches":
            try:
                regex.compile(str(value))
            except regex.error as exc:
                self.problem(node, f"bad regular expression {value!r}: {exc}")
                return False
        return True

    # --- actions -------------------------------------------------------------

    def actions(self, node: yaml.Node) -> Actions:
        items = self.mapping(node, "then")
        if items is None:
            return Actions()
        values: dict[str, Any] = {}
        for name, (key, value_node) in items.items():
            if name not in ACTIONS:
                self.unknown(key, name, ACTIONS, "actions")
                continue
            check = self._action_checks().get(name)
            value = self.value(value_node)
            if check is not None:
                value = check(value, value_node)
            if value is not _BAD:
                values[name] = value
        return Actions(**values)

    def _action_checks(self) -> dict[str, Callable[[Any, yaml.Node], Any]]:
        return {
            "tier": self._tier,
            "priority": self._priority,
            "tags": self._words,
            "assign": self._address,
            "sla": self._sla,
            "customer_category": self._word,
            "acknowledge": self._acknowledge,
            "language": self._word,
            "notify": self._addresses,
            "survey": self._flag,
        }

    def _tier(self, value: Any, node: yaml.Node) -> Any:
        if not isinstance(value, str):
            return self._bad(node, f"tier must be a tier name, got {value!r}")
        if self.known.check_names and value not in self.known.tiers:
            tiers = ", ".join(sorted(self.known.tiers)) or "none defined in [[tiers]]"
            return self._bad(node, f'unknown tier "{value}" (tiers: {tiers})')
        return value

    def _priority(self, value: Any, node: yaml.Node) -> Any:
        if value not in PRIORITIES:
            return self._bad(
                node, f"priority must be one of {', '.join(PRIORITIES)}, got {value!r}"
            )
        return value

    def _sla(self, value: Any, node: yaml.Node) -> Any:
        if not isinstance(value, str):
            return self._bad(node, f"sla must be a policy name, got {value!r}")
        if self.known.check_names and value not in self.known.sla_policies:
            names = ", ".join(sorted(self.known.sla_policies)) or "none defined in [[sla_policies]]"
            return self._bad(node, f'unknown SLA policy "{value}" (policies: {names})')
        return value

    def _acknowledge(self, value: Any, node: yaml.Node) -> Any:
        if value is False:
            return False
        if not isinstance(value, str):
            return self._bad(node, f"acknowledge must be a template name or false, got {value!r}")
        if self.known.check_names and value not in self.known.templates:
            names = ", ".join(sorted(self.known.templates)) or "none"
            return self._bad(node, f'unknown template "{value}" (templates: {names})')
        return value

    def _flag(self, value: Any, node: yaml.Node) -> Any:
        if not isinstance(value, bool):
            return self._bad(node, f"expected true or false, got {value!r}")
        return value

    def _word(self, value: Any, node: yaml.Node) -> Any:
        if not isinstance(value, str) or not value.strip():
            return self._bad(node, f"expected a word, got {value!r}")
        return value.strip()

    def _words(self, value: Any, node: yaml.Node) -> Any:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(v, str) and v for v in items):
            return self._bad(node, f"expected a word or a list of words, got {value!r}")
        return tuple(items)

    def _address(self, value: Any, node: yaml.Node) -> Any:
        if not isinstance(value, str) or not _ADDRESS.match(value):
            return self._bad(node, f"expected an e-mail address, got {value!r}")
        return value.lower()

    def _addresses(self, value: Any, node: yaml.Node) -> Any:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(
            isinstance(v, str) and _ADDRESS.match(v) for v in items
        ):
            return self._bad(node, f"expected an e-mail address or a list of them, got {value!r}")
        return tuple(v.lower() for v in items)

    def _bad(self, node: yaml.Node, what: str) -> object:
        self.problem(node, what)
        return _BAD


_BAD = object()
