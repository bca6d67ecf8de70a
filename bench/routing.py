"""Routing throughput: 10,000 messages through 200 rules (target: under 1 s in total).

Rules are compiled once from YAML; each message's facts are built once.
Prints a table; nothing here is a test.

    .venv/bin/python bench/routing.py [--messages 10000] [--rules 200]
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.mailgen import messages
from maildesk.parse import parse_mail
from maildesk.routing.engine import route_message
from maildesk.routing.facts import CustomerInfo, facts_for
from maildesk.routing.rules import load_rules
from maildesk.routing.ruleset import Known
from maildesk.visible import visible_text

TIERS = ("L1", "L2", "L3")


def rule_file(count: int, seed: int = 3) -> str:
    """A realistic mix: domains, keyword regexes, headers, attachments, nested any/all/not."""
    rng = random.Random(seed)
    words = [
        "printer",
        "vpn",
        "invoice",
        "password",
        "outage",
        "license",
        "backup",
        "crash",
        "срочно",
        "не работает",
        "refund",
        "login",
        "server",
        "mail",
        "slow",
    ]
    lines = []
    for n in range(count):
        kind = n % 8
        if kind == 0:
            when = f"sender_domain: {{in: [client{rng.randrange(50)}.example, c{n}.example]}}"
        elif kind == 1:
            w = rng.sample(words, 3)
            when = f"subject: {{matches: '\\b({'|'.join(w)})\\b'}}"
        elif kind == 2:
            when = f"body: {{contains: '{rng.choice(words)}'}}"
        elif kind == 3:
            when = f"header: {{name: X-Priority, equals: '{rng.randrange(1, 5)}'}}"
        elif kind == 4:
            when = "attachment_type: {glob: 'application/*'}"
        elif kind == 5:
            when = (
                f"any: [{{subject: {{contains: '{rng.choice(words)}'}}}}, "
                f"{{customer_category: corporate}}]"
            )
        elif kind == 6:
            when = f"all: [{{language: ru}}, {{not: {{sender: {{glob: '*@client{n % 50}.*'}}}}}}]"
        else:
            when = f"sender: {{glob: 'customer{rng.randrange(300)}@*'}}"
        lines.append(
            f"- name: rule {n}\n  when: {{{when}}}\n"
            f"  then: {{tier: {rng.choice(TIERS)}, tags: [t{n % 20}]}}\n"
        )
    return "".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10000)
    parser.add_argument("--rules", type=int, default=200)
    parser.add_argument("--memory", action="store_true", help="measure memory (slower)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="maildesk-rules-"))
    (folder / "50-bench.yaml").write_text(rule_file(args.rules))
    started = time.perf_counter()
    rules, problems = load_rules(folder, Known(tiers=frozenset(TIERS)))
    compile_s = time.perf_counter() - started
    if problems:
        sys.exit("\n".join(str(p) for p in problems))
    parsed = [parse_mail(raw) for raw in messages(args.messages, seed=11)]
    customer = CustomerInfo("novice", None, None)
    tracemalloc_on = "--memory" in sys.argv
    if tracemalloc_on:
        tracemalloc.start()
    started = time.perf_counter()
    visible = [visible_text(m.text) for m in parsed]  # the ingest stage makes it anyway
    visible_s = time.perf_counter() - started
    # As in the pipeline: one message at a time, facts then rules.
    facts_s = route_s = 0.0
    matched = 0
    gc.collect()
    for message, text in zip(parsed, visible, strict=True):
        t0 = time.perf_counter()
        facts = facts_for(message, text, customer, True)
        t1 = time.perf_counter()
        route, _ = route_message(rules, facts)
        t2 = time.perf_counter()
        facts_s += t1 - t0
        route_s += t2 - t1
        matched += len(route.trace)
    peak = tracemalloc.get_traced_memory()[1] / 1e6 if tracemalloc_on else 0.0
    tracemalloc.stop()
    n = args.messages
    print(f"\n{n} messages, {len(rules.rules)} rules ({matched / n:.1f} matches per message)\n")
    print(f"{'step':<34} {'seconds':>8} {'msg/s':>10} {'µs/msg':>8}")
    print(f"{'compile rules (once)':<34} {compile_s:>8.3f} {'':>10} {'':>8}")
    rows = [
        ("(visible text: the ingest stage)", visible_s),
        ("facts: language, customer, hours", facts_s),
        ("route through all rules", route_s),
        ("routing in total (facts + rules)", facts_s + route_s),
    ]
    for label, seconds in rows:
        print(f"{label:<34} {seconds:>8.3f} {n / seconds:>10.0f} {seconds / n * 1e6:>8.0f}")
    if tracemalloc_on:  # tracing slows Python code down: a separate run
        print(f"\npeak traced memory while routing: {peak:.0f} MB")


if __name__ == "__main__":
    main()
