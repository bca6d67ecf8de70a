"""Authentication-Results and spam headers as real MTAs write them, and what we conclude."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maildesk.parse import parse_mail
from maildesk.routing.facts import facts_for
from maildesk.routing.rules import compile_file
from maildesk.routing.ruleset import Known
from maildesk.trust.authres import parse, trusted_results
from maildesk.trust.sender import TrustPolicy, aligned, assess, organization
from maildesk.trust.spam import judge_spam
from tests.support.desks import Run

DATA = Path(__file__).parent / "data" / "trust"
MX = ("mx.example.com",)


def load(name: str):  # type: ignore[no-untyped-def]
    return parse_mail((DATA / name).read_bytes().replace(b"\n", b"\r\n"))


@pytest.mark.parametrize(
    ("name", "ids", "authentication", "spam", "score"),
    [
        ("postfix-opendmarc-pass.eml", MX, "pass", False, None),
        # The sender's own "dmarc=pass" under our id cannot outvote our MTA's fail.
        ("postfix-opendmarc-forged.eml", MX, "fail", False, None),
        ("rspamd-spam.eml", MX, "fail", True, 12.4),
        ("spamassassin-spam.eml", MX, "none", True, 7.3),
        ("spamassassin-ham.eml", MX, "none", False, -0.1),
        ("exchange-online-fail.eml", ("microsoft365",), "fail", True, None),
        # Without the pseudo-id Microsoft's id-less header is nobody's: only SCL counts.
        ("exchange-online-fail.eml", MX, "none", True, None),
        ("exchange-online-pass.eml", ("microsoft365",), "pass", False, None),
        ("gmail-pass.eml", ("mx.google.com",), "pass", False, None),
        ("gmail-pass.eml", MX, "none", False, None),
        ("exim-submission.eml", MX, "pass", False, None),
        ("foreign-header.eml", MX, "none", False, None),
        # No MTA configured: nothing is believed, whatever the headers say.
        ("postfix-opendmarc-forged.eml", (), "none", False, None),
    ],
)
def test_mta_headers(
    name: str, ids: tuple[str, ...], authentication: str, spam: bool, score: float | None
) -> None:
    trust = assess(load(name), TrustPolicy(ids, 5.0))
    assert (trust.authentication, trust.spam, trust.spam_score) == (authentication, spam, score)
    assert trust.suspicious == (authentication == "fail" or spam)
    if authentication == "fail":
        assert trust.reasons[0].startswith("From failed authentication: ")


def test_forged_pass_below_our_received_is_outvoted() -> None:
    trust = assess(load("postfix-opendmarc-forged.eml"), TrustPolicy(MX))
    assert trust.results["dmarc"] == "fail"
    assert "dmarc=fail" in trust.why and "bank.example" in trust.why


def test_headers_of_other_mtas_are_ignored_and_named() -> None:
    trust = assess(load("foreign-header.eml"), TrustPolicy(MX))
    assert trust.ignored == ("relay.elsewhere.example",) and trust.results == {}


def test_rspamd_results_for_rules() -> None:
    trust = assess(load("rspamd-spam.eml"), TrustPolicy(MX))
    assert trust.results == {"dkim": "none", "dmarc": "fail", "spf": "fail"}
    assert any("X-Rspamd-Action: add header" in r for r in trust.reasons)


def test_parse_rfc8601_forms() -> None:
    parsed = parse(
        'mx.example.com 1; dkim/1 = pass (good) reason="sig ok" header.d=a.example '
        "header.b=abc; spf=fail smtp.mailfrom=x@b.example"
    )
    assert parsed is not None and parsed.authserv_id == "mx.example.com"
    dkim, spf = parsed.results
    assert (dkim.method, dkim.result, dkim.reason, dkim.property("header.d")) == (
        "dkim",
        "pass",
        "sig ok",
        "a.example",
    )
    assert (spf.method, spf.result, spf.property("smtp.mailfrom")) == ("spf", "fail", "x@b.example")
    none = parse("mx.example.com; none")
    assert none is not None and none.results == ()
    # Microsoft: no authserv-id, a bare domain between results.
    ms = parse("spf=pass (sender IP is 1.1.1.1) smtp.mailfrom=a.example; b.example; dkim=none")
    assert ms is not None and ms.authserv_id is None
    assert [(r.method, r.result) for r in ms.results] == [("spf", "pass"), ("dkim", "none")]


def test_only_the_topmost_id_less_header_is_microsofts() -> None:
    headers = [
        ("received", "by mx"),
        ("authentication-results", "spf=fail smtp.mailfrom=a.example; dmarc=fail"),
        ("authentication-results", "spf=pass smtp.mailfrom=a.example; dmarc=pass"),
    ]
    found, ignored = trusted_results(headers, ["microsoft365"])
    assert [str(r) for r in found] == ["spf=fail smtp.mailfrom=a.example", "dmarc=fail"]
    assert ignored == ("(no authserv-id)",)


@pytest.mark.parametrize(
    ("one", "other", "same"),
    [
        ("mail.example.com", "example.com", True),
        ("example.com", "EXAMPLE.COM", True),
        ("bigcorp.co.uk", "mail.bigcorp.co.uk", True),
        ("a.co.uk", "b.co.uk", False),
        ("example.com", "example.org", False),
        ("", "example.com", False),
    ],
)
def test_alignment(one: str, other: str, same: bool) -> None:
    assert aligned(one, other) is same
    if one:
        assert (organization(one) == organization(other)) is same


@pytest.mark.parametrize(
    ("headers", "spam", "score"),
    [
        ([("x-spam-flag", "YES")], True, None),
        ([("x-spam-flag", "NO")], False, None),
        ([("x-spam-status", "No, score=4.9 required=5.0 tests=X")], False, 4.9),
        ([("x-spam-status", "No, score=5.0 required=6.0 tests=X")], True, 5.0),  # our threshold
        ([("x-spam-score", "-2.5")], False, -2.5),
        ([("x-spamd-result", "default: False [3.10 / 15.00]; X(1.00)")], False, 3.1),
        ([("x-rspamd-action", "no action")], False, None),
        ([("x-rspamd-action", "rewrite subject")], True, None),
        ([("x-ms-exchange-organization-scl", "-1")], False, None),
        ([("x-ms-exchange-organization-scl", "9")], True, None),
        ([("x-forefront-antispam-report", "CIP:1.2.3.4;SCL:6;SFV:SPM")], True, None),
        ([("x-spam-status", "garbage"), ("x-spam-score", "lots")], False, None),
    ],
)
def test_spam_headers(headers: list[tuple[str, str]], spam: bool, score: float | None) -> None:
    verdict = judge_spam(headers, 5.0)
    assert (verdict.spam, verdict.score) == (spam, score)
    assert bool(verdict.reasons) == spam


@given(st.text())
def test_authentication_results_never_raise(value: str) -> None:
    parse(value)
    trusted_results([("authentication-results", value)], ["mx.example.com", "microsoft365"])
    judge_spam([("x-spam-status", value), ("x-spamd-result", value)], 5.0)


RULES = """
- name: spam to the bin tier
  when: {spam: true}
  then: {tier: L2, tags: [spam]}
- name: a high score is urgent to look at
  when: {spam_score: {at_least: 10}}
  then: {priority: low}
- name: forged bank mail
  when:
    all:
      - dmarc: fail
      - authentication: fail
      - spf: {in: [fail, softfail]}
  then: {tags: [forged]}
"""


def test_rules_see_spam_and_authentication(tmp_path: Path) -> None:
    path = tmp_path / "50-trust.yaml"
    path.write_text(RULES)
    rules, problems = compile_file(path, Known(check_names=False))
    assert problems == []
    mail = load("rspamd-spam.eml")
    facts = facts_for(mail, "Buy now.", None, True, trust=assess(mail, TrustPolicy(MX)))
    explained = {r.name: r.when.explain(facts) for r in rules}
    assert explained["spam to the bin tier"] == (True, "spam is true (it is true)")
    assert explained["a high score is urgent to look at"] == (
        True,
        "spam_score at least 10 (it is 12.4)",
    )
    assert explained["forged bank mail"][0] is True
    ham = load("spamassassin-ham.eml")
    facts = facts_for(ham, "x", None, True, trust=assess(ham, TrustPolicy(MX)))
    assert [r.when.explain(facts)[0] for r in rules] == [False, False, False]


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        ("spam_score: 5", "spam_score needs a comparison, e.g. spam_score: {at_least: 5}"),
        ("spam_score: {contains: x}", "spam_score is a number: use at_least, below or exists"),
        ("spam_score: {at_least: high}", "at_least needs a number, got 'high'"),
        ("subject: {at_least: 3}", "at_least is for numbers (spam_score), not subject"),
        ("spam: maybe", "spam must be true or false, got 'maybe'"),
    ],
)
def test_trust_conditions_explain_their_mistakes(tmp_path: Path, rule: str, problem: str) -> None:
    path = tmp_path / "50-bad.yaml"
    path.write_text(f"- name: x\n  when:\n    {rule}\n  then: {{tags: [x]}}\n")
    rules, problems = compile_file(path, Known(check_names=False))
    assert rules == [] and [p.what for p in problems] == [problem]


def test_rules_test_shows_what_our_mta_said(
    run: Run, write_desk: Callable[..., Path], minimal_config: Callable[[], str]
) -> None:
    config = write_desk(minimal_config() + '\n[trust]\nauthserv_id = ["mx.example.com"]\n')
    code, out, _ = run("-c", str(config), "rules", "test", str(DATA / "rspamd-spam.eml"))
    assert code == 0 and "authentication fail, spam (score 12.4)" in out
    code, out, _ = run("-c", str(config), "rules", "test", str(DATA / "spamassassin-ham.eml"))
    assert "authentication none, not spam (score -0.1)" in out
    code, out, _ = run(
        "-c", str(config), "rules", "test", str(DATA / "postfix-opendmarc-pass.eml"), "--json"
    )
    seen = json.loads(out)["message"]
    assert (seen["authentication"], seen["spam"], seen["spam_score"]) == ("pass", False, None)
