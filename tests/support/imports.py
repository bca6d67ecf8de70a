"""maildesk's import graph, read from the source, and the layers it must respect.

Used by tests/test_layering.py (a new cycle or up-arrow fails) and by
bench/house.py (the numbers for a closing note). Imports under
``if TYPE_CHECKING:`` count: a type-only import is still a module knowing
another.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "maildesk"

# Top to bottom. A module may import its own layer's group or any lower layer;
# groups that share a layer may not import each other (store never reads a stage,
# a stage never touches the store). A name matches a module and everything under it.
LAYERS: tuple[tuple[tuple[str, ...], ...], ...] = (
    (("maildesk.__main__", "maildesk.cli"),),
    (("maildesk.daemon", "maildesk.startup", "maildesk.metrics", "maildesk.logs"),),
    (("maildesk.sources", "maildesk.readahead"),),
    (("maildesk.quarantine",),),
    (("maildesk.intake",),),
    (("maildesk.pipeline",),),
    (("maildesk.tickets",),),
    (("maildesk.desk",),),
    (("maildesk.reports",),),
    (("maildesk.feedback.surveys",),),
    (
        (
            "maildesk.sla.scheduler",
            "maildesk.sla.digests",
            "maildesk.sla.waiting",
            "maildesk.sla.notices",
            "maildesk.sla.report",
        ),
    ),
    (("maildesk.sla.timers", "maildesk.sla.durations"),),
    (("maildesk.outbox",),),
    (
        ("maildesk.store",),
        (
            "maildesk.parse",
            "maildesk.parts",
            "maildesk.skeleton",
            "maildesk.htmltext",
            "maildesk.htmltree",
            "maildesk.htmlreply",
            "maildesk.guards",
            "maildesk.thread",
            "maildesk.visible",
            "maildesk.commands",
            "maildesk.routing",
            "maildesk.trust",
            "maildesk.kb",
            "maildesk.render",
            "maildesk.samples",
            "maildesk.language",
            "maildesk.sla.calendar",
            "maildesk.feedback.replies",
            "maildesk.yamlsafe",
            "maildesk.net",
            "maildesk.outbox.compose",
            "maildesk.outbox.htmlbody",
            "maildesk.outbox.humanize",
        ),
    ),
    (
        (
            "maildesk.mail",
            "maildesk.outcome",
            "maildesk.errors",
            "maildesk.clock",
            "maildesk.charsets",
            "maildesk.config",
            "maildesk.starter",
            "maildesk.sla.ics",
            "maildesk.malloc",
        ),
    ),
)


@dataclass(frozen=True)
class Arrow:
    importer: str
    imported: str

    def __str__(self) -> str:
        return f"{self.importer} -> {self.imported}"


def modules(package: Path = PACKAGE) -> dict[str, Path]:
    """Module name -> file, migrations left out (alembic loads them by path)."""
    found: dict[str, Path] = {}
    for path in sorted(package.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        parts = path.relative_to(package.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the maildesk modules it imports."""
    known = modules(package)

    def owner(name: str) -> str:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name

    edges: dict[str, set[str]] = {}
    for name, path in known.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {owner(a.name) for a in node.names if a.name.startswith("maildesk")}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = here.split(".")[: len(here.split(".")) - node.level + 1]
                    base = ".".join(parts) + (f".{base}" if base else "")
                if base.startswith("maildesk"):
                    for alias in node.names:
                        full = f"{base}.{alias.name}"
                        found.add(full if full in known else owner(base))
        found -= {name, "maildesk", ""}
        edges[name] = found
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(edges.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(groups)


def place(module: str) -> tuple[int, int] | None:
    """(layer, group) of a module: the longest matching name wins."""
    best: tuple[int, int, int] | None = None
    for layer, groups in enumerate(LAYERS):
        for group, names in enumerate(groups):
            for name in names:
                matches = module == name or module.startswith(name + ".")
                if matches and (best is None or len(name) > best[2]):
                    best = (layer, group, len(name))
    return None if best is None else (best[0], best[1])


def unplaced(edges: dict[str, set[str]]) -> list[str]:
    """Modules no layer names (a new module must say where it belongs); the root
    package and the inits that hold only a docstring need no place."""
    files = modules()

    def empty(module: str) -> bool:
        return not edges[module] and files[module].read_text(encoding="utf-8").count("\n") <= 1

    return sorted(m for m in edges if m != "maildesk" and place(m) is None and not empty(m))


def up_arrows(edges: dict[str, set[str]]) -> Iterator[Arrow]:
    """Imports that climb to a higher layer, or cross to a sibling group of the same layer."""
    for importer in sorted(edges):
        where = place(importer)
        for imported in sorted(edges[importer]):
            there = place(imported)
            if where is None or there is None:
                continue
            if there[0] < where[0] or (there[0] == where[0] and there[1] != where[1]):
                yield Arrow(importer, imported)


def long_files(limit: int = 400, package: Path = PACKAGE) -> list[tuple[str, int]]:
    """Source files over ``limit`` lines, longest first."""
    counted = [
        (str(p.relative_to(package.parent)), len(p.read_text(encoding="utf-8").splitlines()))
        for p in package.rglob("*.py")
        if "migrations" not in p.parts
    ]
    return sorted(((f, n) for f, n in counted if n > limit), key=lambda x: -x[1])
