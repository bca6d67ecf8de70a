"""The house's shape holds: no import cycle, no arrow up a layer, no file past 400 lines.

The graph is read from the source (tests/support/imports.py), type-only
imports included. A new module must be given a layer there.
"""

from __future__ import annotations

from pathlib import Path

from tests.support import imports


def test_no_module_imports_itself_through_others() -> None:
    assert imports.cycles(imports.graph()) == []


def test_no_import_climbs_a_layer_or_crosses_to_a_sibling() -> None:
    arrows = [str(a) for a in imports.up_arrows(imports.graph())]
    assert arrows == [], "see LAYERS in tests/support/imports.py"


def test_every_module_has_a_layer() -> None:
    assert imports.unplaced(imports.graph()) == []


def test_no_source_file_is_over_400_lines() -> None:
    assert imports.long_files(400) == []


def test_stages_never_touch_the_store_and_the_store_no_stage() -> None:
    """The two sibling groups of one layer: a stage works on records, the store on rows."""
    edges = imports.graph()
    store = {m for m in edges if m.startswith("maildesk.store")}
    stages = {m for m in edges if (p := imports.place(m)) is not None and p == (13, 1)}
    assert "maildesk.parse" in stages and "maildesk.thread" in stages
    assert not {(a, b) for a in stages for b in edges[a] if b in store}
    assert not {(a, b) for a in store for b in edges[a] if b in stages}


def _package(root: Path, files: dict[str, str]) -> Path:
    package = root / "maildesk"
    for name, text in files.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return package


def test_the_checker_sees_a_new_cycle_and_an_up_arrow(tmp_path: Path) -> None:
    """Proof that the checks above can fail: a made-up package with both faults."""
    package = _package(
        tmp_path,
        {
            "__init__.py": "",
            "parse.py": "from maildesk.store.models import Ticket\n",
            "store/__init__.py": "",
            "store/models.py": "from maildesk import pipeline\n",
            "pipeline.py": "if True:\n    from maildesk.parse import parse_mail\n",
        },
    )
    edges = imports.graph(package)
    assert edges["maildesk.parse"] == {"maildesk.store.models"}
    assert imports.cycles(edges) == [
        ["maildesk.parse", "maildesk.pipeline", "maildesk.store.models"]
    ]
    assert {str(a) for a in imports.up_arrows(edges)} == {
        "maildesk.parse -> maildesk.store.models",  # a stage reading the store
        "maildesk.store.models -> maildesk.pipeline",  # the store reaching up
    }


def test_relative_and_type_only_imports_count(tmp_path: Path) -> None:
    package = _package(
        tmp_path,
        {
            "__init__.py": "",
            "tickets/__init__.py": "",
            "tickets/agent.py": "from . import holding\nfrom .holding import hold\n",
            "tickets/holding.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n    from maildesk.intake import Intake\n"
            ),
            "intake.py": "",
        },
    )
    edges = imports.graph(package)
    assert edges["maildesk.tickets.agent"] == {"maildesk.tickets.holding"}
    assert [str(a) for a in imports.up_arrows(edges)] == [
        "maildesk.tickets.holding -> maildesk.intake"
    ]


def test_no_test_module_imports_another() -> None:
    """Shared helpers live in tests/support: a test module is never another's library."""
    import ast

    tests = Path(__file__).resolve().parent
    found = []
    for path in sorted(tests.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                last = node.module.rsplit(".", 1)[-1]
                if node.module.startswith("tests.") and (
                    last.startswith("test_") or last == "conftest"
                ):
                    found.append(f"{path.relative_to(tests)}: {node.module}")
    assert found == []
