"""Routing rules: every condition, operator, combinator and action; errors with file:line."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maildesk.config import settings_from_mapping
from maildesk.config.model import Settings
from maildesk.parse import parse_mail
from maildesk.routing.engine import route_message
from maildesk.routing.facts import CustomerInfo, Facts, facts_for
from maildesk.routing.router import Router
from maildesk.routing.rules import compile_file, load_rules
from maildesk.routing.ruleset import Known, RuleSet
from maildesk.visible import visible_text

KNOWN = Known(
    tiers=frozenset({"L1", "L2", "L3"}),
    sla_policies=frozenset({"normal", "urgent"}),
    templates=frozenset({"acknowledgement", "vip"}),
)

MAIL = (
    "From: Иван Петров <Ivan@BigCorp.example>\r\nTo: Support <support@example.com>\r\n"
    "Cc: boss@bigcorp.example\r\nSubject: URGENT: VPN is down\r\nX-Priority: 1\r\n"
    "Message-ID: <r1@bigcorp.example>\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n\r\nHello, the VPN does not work since 9:00.\r\n"
    "--b\r\nContent-Type: image/png; name=screen.png\r\nContent-Disposition: attachment; "
    "filename=screen.png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--b--\r\n"
)


def facts(
    raw: str = MAIL,
    *,
    customer: CustomerInfo | None = None,
    open_: bool = True,
    reply: bool = False,
) -> Facts:
    mail = parse_mail(raw.encode())
    return facts_for(mail, visible_text(mail.text), customer, open_, reply=reply)


def compile_rules(tmp_path: Path, text: str, known: Known = KNOWN) -> RuleSet:
    path = tmp_path / "50-test.yaml"
    path.write_text(textwrap.dedent(text))
    rules, problems = compile_file(path, known)
    assert problems == [], problems
    return RuleSet(tuple(rules), (path,))


def matches(tmp_path: Path, when: str, f: Facts | None = None) -> bool:
    body = textwrap.indent(textwrap.dedent(when).strip(), "    ")
    rules = compile_rules(tmp_path, f"- name: t\n  when:\n{body}\n  then: {{tags: [hit]}}\n")
    route, traces = route_message(rules, f or facts(), explain=True)
    # The fast path and the explaining path must agree.
    assert route_message(rules, f or facts())[0].tags == route.tags
    return traces[0].matched


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("sender: ivan@bigcorp.example", True),
        ("sender: {equals: IVAN@BIGCORP.EXAMPLE}", True),
        ("sender: {equals: Ivan@BigCorp.example, ignore_case: false}", False),
        ("sender_domain: {in: [bigcorp.example, megacorp.example]}", True),
        ("sender_domain: [other.example]", False),
        ("sender_name: {contains: петров}", True),
        ("recipient: {equals: support@example.com}", True),
        ("recipient: {glob: '*@bigcorp.example'}", True),
        ("recipient: {in: [sales@example.com]}", False),
        ("subject: {contains: vpn}", True),
        ("subject: {contains: vpn, ignore_case: false}", False),
        ("subject: {matches: '^urgent\\b'}", True),
        ("subject: {matches: '^urgent\\b', ignore_case: false}", False),
        ("subject: {glob: 'URGENT:*'}", True),
        ("subject: {exists: true}", True),
        ("body: {contains: does not work}", True),
        ("body: {matches: 'since \\d+:\\d+'}", True),
        ("header: {name: X-Priority, equals: '1'}", True),
        ("header: {name: x-priority, in: ['1', '2']}", True),
        ("header: {name: X-Mailer, exists: true}", False),
        ("header: {name: X-Mailer, exists: false}", True),
        ("has_attachments: true", True),
        ("has_attachments: false", False),
        ("attachment_type: {glob: 'image/*'}", True),
        ("attachment_name: {matches: '\\.png$'}", True),
        ("language: en", True),
        ("language: {in: [ru, uk]}", False),
        ("customer_category: corporate", False),
        ("business_hours: true", True),
        ("business_hours: false", False),
    ],
)
def test_conditions(tmp_path: Path, when: str, expected: bool) -> None:
    assert matches(tmp_path, when) is expected


def test_customer_conditions(tmp_path: Path) -> None:
    known = facts(customer=CustomerInfo("corporate", "BigCorp", "ru"))
    assert matches(tmp_path, "customer_category: {equals: Corporate}", known)
    assert matches(tmp_path, "customer_organization: {contains: big}", known)
    assert matches(tmp_path, "customer_language: ru", known)
    assert not matches(tmp_path, "customer_language: en", known)


def test_business_hours_from_the_calendar() -> None:
    settings = settings_from_mapping(
        {
            "helpdesk": {"address": "s@example.com", "timezone": "Europe/Berlin"},
            "smtp": {"spool_dir": "o"},
            "calendar": {"hours": ["09:00-13:00", "14:00-18:00"], "holidays": ["2026-12-25"]},
        },
        name="t",
        base=Path("/tmp"),
    )
    from maildesk.sla.calendar import BusinessCalendar

    cal = BusinessCalendar.from_settings(settings)
    assert cal.is_open(datetime(2026, 11, 23, 9, 30, tzinfo=UTC))  # Monday 10:30 in Berlin
    assert not cal.is_open(datetime(2026, 11, 23, 12, 30, tzinfo=UTC))  # lunch, 13:30
    assert not cal.is_open(datetime(2026, 11, 22, 10, 0, tzinfo=UTC))  # Sunday
    assert not cal.is_open(datetime(2026, 12, 25, 10, 0, tzinfo=UTC))  # holiday
    assert not cal.is_open(datetime(2026, 11, 23, 17, 30, tzinfo=UTC))  # 18:30


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("all:\n  - subject: {contains: vpn}\n  - sender_domain: bigcorp.example", True),
        ("all:\n  - subject: {contains: vpn}\n  - sender_domain: other.example", False),
        ("any:\n  - subject: {contains: printer}\n  - body: {contains: vpn}", True),
        ("any:\n  - subject: {contains: printer}\n  - body: {contains: fax}", False),
        ("not:\n  subject: {contains: printer}", True),
        ("not:\n  any:\n    - subject: {contains: vpn}\n    - body: {contains: fax}", False),
        (
            "any:\n  - all:\n      - subject: {contains: vpn}\n"
            "      - not: {has_attachments: false}\n  - sender: x@y.z",
            True,
        ),
        ("subject: {contains: vpn}\nsender_domain: other.example", False),  # implicit all
    ],
)
def test_combinators(tmp_path: Path, when: str, expected: bool) -> None:
    assert matches(tmp_path, when) is expected


def test_actions_apply_in_order_and_later_ones_win(tmp_path: Path) -> None:
    rules = compile_rules(
        tmp_path,
        """
        - name: base
          then: {tier: L1, priority: normal, sla: normal, tags: [new]}
        - name: vip
          when: {sender_domain: bigcorp.example}
          then:
            tier: L3
            priority: high
            tags: corporate
            assign: Carol@example.com
            sla: urgent
            customer_category: corporate
            acknowledge: vip
            language: ru
            notify: [boss@example.com, lead@example.com]
        - name: never
          when: {subject: {contains: printer}}
          then: {tier: L2}
    """,
    )
    route, _ = route_message(rules, facts())
    assert (route.tier, route.priority, route.sla_policy, route.assignee) == (
        "L3",
        "high",
        "urgent",
        "carol@example.com",
    )
    assert route.tags == ("new", "corporate")
    assert (route.customer_category, route.acknowledge, route.language) == (
        "corporate",
        "vip",
        "ru",
    )
    assert route.notify == ("boss@example.com", "lead@example.com")
    assert route.trace == ("base (50-test.yaml:2)", "vip (50-test.yaml:4)")


def test_stop_skips_later_rules(tmp_path: Path) -> None:
    rules = compile_rules(
        tmp_path,
        """
        - name: first
          then: {tier: L2}
          stop: true
        - name: second
          then: {tier: L3}
    """,
    )
    route, traces = route_message(rules, facts(), explain=True)
    assert route.tier == "L2"
    assert [(t.name, t.matched, t.skipped) for t in traces] == [
        ("first", True, False),
        ("second", False, True),
    ]


def test_acknowledge_false_means_none(tmp_path: Path) -> None:
    rules = compile_rules(tmp_path, "- name: quiet\n  then: {acknowledge: false}\n")
    assert route_message(rules, facts())[0].acknowledge is False


def test_only_on_reply_rules_run_for_replies(tmp_path: Path) -> None:
    rules = compile_rules(
        tmp_path,
        """
        - name: new only
          then: {tier: L2}
        - name: still broken
          on: reply
          when: {body: {contains: does not work}}
          then: {priority: urgent}
    """,
    )
    route, traces = route_message(rules, facts(reply=True), explain=True)
    assert (route.tier, route.priority) == (None, "urgent")
    assert traces[0].skipped and traces[0].reason == "only for new tickets"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- name: a\n  then: {tier: L9}\n", '2: unknown tier "L9" (tiers: L1, L2, L3)'),
        (
            "- name: a\n  then: {sla: gold}\n",
            '2: unknown SLA policy "gold" (policies: normal, urgent)',
        ),
        (
            "- name: a\n  then: {acknowledge: welcome}\n",
            '2: unknown template "welcome" (templates: acknowledgement, vip)',
        ),
        (
            "- name: a\n  then: {priority: asap}\n",
            "2: priority must be one of urgent, high, normal, low, got 'asap'",
        ),
        ("- name: a\n  then: {assign: carol}\n", "2: expected an e-mail address, got 'carol'"),
        (
            "- name: a\n  then: {notify: [a@b.c, nope]}\n",
            "2: expected an e-mail address or a list of them, got ['a@b.c', 'nope']",
        ),
        (
            "- name: a\n  then: {tags: [1, 2]}\n",
            "2: expected a word or a list of words, got [1, 2]",
        ),
        ("- name: a\n  then: {teir: L1}\n", '2: unknown key "teir" (did you mean "tier"?)'),
        (
            "- name: a\n  when:\n    subject: {matches: '(unclosed'}\n  then: {tier: L1}\n",
            "3: bad regular expression '(unclosed': missing ) at position 9",
        ),
        (
            "- name: a\n  when:\n    subjet: {contains: x}\n  then: {tier: L1}\n",
            '3: unknown key "subjet" (did you mean "subject"?)',
        ),
        (
            "- name: a\n  when:\n    subject: {containz: x}\n  then: {tier: L1}\n",
            '3: unknown key "containz" (did you mean "contains"?)',
        ),
        (
            "- name: a\n  when:\n    subject: {contains: x, equals: y}\n  then: {tier: L1}\n",
            "3: subject needs exactly one operator (equals, contains, matches, in, glob, exists)",
        ),
        (
            "- name: a\n  when:\n    subject: {in: x}\n  then: {tier: L1}\n",
            "3: in needs a list of values, e.g. [a, b]",
        ),
        (
            "- name: a\n  when:\n    has_attachments: maybe\n  then: {tier: L1}\n",
            "3: has_attachments must be true or false, got 'maybe'",
        ),
        (
            "- name: a\n  when:\n    header: {equals: x}\n  then: {tier: L1}\n",
            '3: header needs name: (e.g. {name: X-Priority, equals: "1"})',
        ),
        (
            "- name: a\n  when:\n    any: {subject: x}\n  then: {tier: L1}\n",
            "3: any must be a list of conditions",
        ),
        (
            "- name: a\n  when:\n    subject: {contains: x, ignore_case: no-thanks}\n  then: {}\n",
            "3: ignore_case must be true or false",
        ),
        (
            "- name: a\n  on: sometimes\n  then: {tier: L1}\n",
            '2: on must be "new" or "reply", got \'sometimes\'',
        ),
        (
            "- name: a\n  stop: yes please\n  then: {tier: L1}\n",
            "2: stop must be true or false, got 'yes please'",
        ),
        (
            "- name: a\n  then: {tier: L1}\n  then: {tier: L2}\n",
            '3: duplicate key "then" in a rule',
        ),
        (
            "- name: a\n  then: {tier: L1\n",
            "3: invalid YAML: expected ',' or '}', but got '<stream end>'",
        ),
    ],
)
def test_problems_name_the_line(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "50-test.yaml"
    path.write_text(text)
    rules, problems = compile_file(path, KNOWN)
    assert rules == []
    assert [str(p).removeprefix(f"{path}:") for p in problems] == [expected]


def test_a_file_with_one_bad_rule_gives_no_rules(tmp_path: Path) -> None:
    (tmp_path / "10-good.yaml").write_text("- name: good\n  then: {tier: L1}\n")
    (tmp_path / "20-bad.yaml").write_text(
        "- name: fine\n  then: {tier: L2}\n- name: x\n  then: {tier: L9}\n"
    )
    rules, problems = load_rules(tmp_path, KNOWN)
    assert [r.name for r in rules.rules] == ["good"]
    assert len(problems) == 1 and "20-bad.yaml:4" in str(problems[0])


def _settings(tmp_path: Path, customers: str | None = None) -> Settings:
    (tmp_path / "rules").mkdir(exist_ok=True)
    paths: dict[str, str] = {"templates": str(Path(__file__).parent.parent / "templates")}
    if customers is not None:
        paths["customers"] = customers
    return settings_from_mapping(
        {
            "helpdesk": {"address": "s@example.com"},
            "smtp": {"spool_dir": "o"},
            "tiers": [{"name": "L1"}, {"name": "L3"}],
            "paths": paths,
        },
        name="t",
        base=tmp_path,
    )


@pytest.mark.parametrize("kind", ["yaml", "csv"])
def test_customers_list(tmp_path: Path, kind: str) -> None:
    if kind == "yaml":
        (tmp_path / "customers.yaml").write_text(
            "- address: '@bigcorp.example'\n  category: corporate\n  organization: BigCorp\n"
            "- address: ivan@bigcorp.example\n  category: experienced\n  language: ru\n"
        )
    else:
        (tmp_path / "customers.csv").write_text(
            "address,category,organization,language\n@bigcorp.example,corporate,BigCorp,\n"
            "ivan@bigcorp.example,experienced,,ru\n"
        )
    router, problems = Router.load(_settings(tmp_path, f"customers.{kind}"))
    assert problems == []
    ivan = router.customer("Ivan@BigCorp.example", None)
    assert (ivan.category, ivan.organization, ivan.language) == ("experienced", None, "ru")
    boss = router.customer("boss@bigcorp.example", CustomerInfo(None, None, "de"))
    assert (boss.category, boss.organization, boss.language) == ("corporate", "BigCorp", "de")
    stranger = router.customer("x@else.example", CustomerInfo("novice", None, None))
    assert stranger.category == "novice"


def test_customers_list_problems(tmp_path: Path) -> None:
    (tmp_path / "customers.yaml").write_text("- address: nobody\n- adress: x@y.z\n")
    _, problems = Router.load(_settings(tmp_path, "customers.yaml"))
    assert [p.what for p in problems] == [
        "address must be name@domain or @domain, got 'nobody'",
        "unknown field 'adress' (fields: address, category, organization, language)",
    ]
    _, problems = Router.load(_settings(tmp_path, "missing.yaml"))
    assert [p.what for p in problems] == ["customers file not found"]


def test_shipped_rules_express_the_support_model() -> None:
    repo = Path(__file__).parent.parent
    settings = settings_from_mapping(
        {
            "helpdesk": {"address": "s@example.com"},
            "smtp": {"spool_dir": "o"},
            "tiers": [{"name": "L1"}, {"name": "L2"}, {"name": "L3"}],
            "sla_policies": [{"name": "normal"}, {"name": "urgent"}, {"name": "corporate"}],
            "paths": {
                "rules": str(repo / "rules"),
                "templates": str(repo / "templates"),
                "customers": str(repo / "maildesk" / "starter" / "customers.yaml"),
            },
        },
        name="t",
        base=repo,
    )
    router, problems = Router.load(settings)
    assert problems == []

    def route(sender: str, subject: str, body: str = "Hello") -> tuple[str | None, str | None]:
        raw = f"From: {sender}\r\nSubject: {subject}\r\n\r\n{body}\r\n".encode()
        mail = parse_mail(raw)
        r, _ = router.route_new(router.facts(mail, body, None, datetime.now(UTC)))
        return r.tier, r.priority

    assert route("a@home.example", "How do I change my password?") == ("L1", "normal")
    assert route("a@home.example", "Server down!") == ("L1", "high")
    assert route("a@home.example", "Срочно: не работает почта") == ("L1", "high")
    assert route("a@home.example", "Download link") == ("L1", "normal")  # not "down"
    assert route("a@home.example", "Question", "Our site is down since 8") == ("L1", "high")
    assert route("x@bigcorp.example", "Question") == ("L3", "high")  # by the customers list
    assert route("x@megacorp.example", "Question") == ("L3", "high")  # by domain list


def _readme_examples(table_heading: str) -> list[str]:
    text = (Path(__file__).parent.parent / "rules" / "README.md").read_text()
    section = text.split(table_heading, 1)[1].split("\n\n", 1)[0]
    examples = []
    for line in section.splitlines()[2:]:
        cells = [c.strip() for c in line.replace("\\|", "\x00").split("|")[1:-1]]
        if cells:
            examples.append(cells[-1].strip("`").replace("\x00", "|"))
    return examples


README_KNOWN = Known(
    tiers=frozenset({"L1", "L2", "L3"}),
    sla_policies=frozenset({"normal", "urgent", "corporate"}),
    templates=frozenset({"acknowledgement"}),
)


@pytest.mark.parametrize(
    "example",
    [
        *_readme_examples("| field | what it is | example |"),
        *_readme_examples("| operator | means | example |"),
        *_readme_examples("| combinator | means | example |"),
    ],
)
def test_every_documented_condition_compiles(tmp_path: Path, example: str) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(f"- name: x\n  when:\n    {example}\n  then: {{tags: [t]}}\n")
    rules, problems = compile_file(path, README_KNOWN)
    assert problems == [] and len(rules) == 1


@pytest.mark.parametrize("example", _readme_examples("| action | sets | example |"))
def test_every_documented_action_compiles(tmp_path: Path, example: str) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(f"- name: x\n  then:\n    {example}\n")
    rules, problems = compile_file(path, README_KNOWN)
    assert problems == [] and len(rules) == 1


def test_documented_rule_files_compile(tmp_path: Path) -> None:
    import re

    text = (Path(__file__).parent.parent / "rules" / "README.md").read_text()
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if "- name:" in b]
    assert len(blocks) >= 2
    for n, block in enumerate(blocks):
        path = tmp_path / f"{n}.yaml"
        path.write_text(block)
        rules, problems = compile_file(path, README_KNOWN)
        assert problems == [] and rules, block


@settings(max_examples=150, deadline=None)
@given(
    subject=st.text(max_size=80),
    body=st.text(max_size=300),
    sender=st.sampled_from(["a@bigcorp.example", "b@home.example", "c@megacorp.example"]),
)
def test_generated_fast_path_agrees_with_the_explaining_path(
    subject: str, body: str, sender: str
) -> None:
    repo = Path(__file__).parent.parent
    folder = repo / "rules"
    rules, problems = load_rules(folder, README_KNOWN)
    assert problems == []
    raw = f"From: {sender}\r\nSubject: x\r\n\r\n".encode()
    mail = parse_mail(raw)
    mail = type(mail)(**{**mail.__dict__, "subject": subject})
    f = facts_for(mail, body, CustomerInfo(), True)
    fast, _ = route_message(rules, f)
    slow, traces = route_message(rules, f, explain=True)
    assert fast == slow
    assert [t.name for t in traces if t.matched] == [h.rsplit(" (", 1)[0] for h in fast.trace]
