"""The rule set as one generated Python function, for routing at volume.

A Python call costs more than most comparisons, so instead of calling one
closure per condition, the compiled conditions are written out as one
function with an ``if`` per rule (``L`` holds the lower-cased message
fields). The generated source only references constants by name: customer
text never becomes code. The closures stay as the reference path
(``explain``), and tests check that both agree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from maildesk.routing.conditions import Condition, Names

if TYPE_CHECKING:
    from maildesk.routing.facts import Facts

Evaluate = Callable[["Facts"], list[int]]


def generate(rules: Sequence[tuple[Condition, bool]]) -> Evaluate:
    """A function returning the indexes (into ``rules``, each a rule's condition and
    whether it stops) of the rules that match."""
    names = Names()
    lines = ["def evaluate(f):", "    L = f.lower", "    hits = []"]
    for index, (when, stop) in enumerate(rules):
        lines.append(f"    if {when.expression(names)}:")
        lines.append(f"        hits.append({index})")
        if stop:
            lines.append("        return hits")
    lines.append("    return hits")
    namespace: dict[str, object] = dict(names.values)
    exec(compile("\n".join(lines), "<maildesk rules>", "exec"), namespace)
    function: Evaluate = namespace["evaluate"]  # type: ignore[assignment]
    return function
