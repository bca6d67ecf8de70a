"""Visible text: quoted history and signatures removed, against the corpus oracles."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maildesk.parse import parse_mail
from maildesk.visible import visible_text
from tests.corpus import Sample, ids, need_corpus, samples

ORACLES = [s for s in samples() if s.expected is not None]

# talon's extract_from_plain keeps signatures by design (talon strips them in a
# separate step); maildesk strips them, as the ingest issue asks. For these the
# oracle must be our text followed by nothing but the signature.
SIGNATURE_KEPT_BY_ORACLE = {"talon__iphone.eml", "talon__sparrow.eml"}


def text_of(sample: Sample) -> str:
    raw = sample.path.read_bytes()
    if sample.form == "body-only":
        return raw.decode("utf-8")
    return parse_mail(raw).text


@pytest.mark.parametrize("sample", ORACLES, ids=ids(ORACLES))
def test_visible_text_matches_oracle(sample: Sample) -> None:
    need_corpus()
    assert sample.expected is not None
    want = sample.expected.read_text(encoding="utf-8").replace("\r\n", "\n").strip()
    got = visible_text(text_of(sample)).strip()
    if sample.name in SIGNATURE_KEPT_BY_ORACLE:
        assert want.startswith(got)
        rest = want[len(got) :].strip()
        assert rest.startswith(("-- ", "Sent from")), rest
    else:
        assert got == want


def test_oracles_are_present_when_the_corpus_is() -> None:
    need_corpus()
    assert len(ORACLES) >= 50


def _body(name: str) -> str:
    need_corpus()
    [sample] = [s for s in samples() if s.name == name]
    return text_of(sample)


def test_a_line_starting_with_one_is_not_an_attribution() -> None:
    text = visible_text(_body("erp__email_one_is_not_on.eml"))
    assert "One outstanding question I had:" in text
    assert "Dave Tapley wrote" not in text and "good news" not in text


@pytest.mark.parametrize("name", ["erp__email_partial_quote_header.eml", "erp__greedy_on.eml"])
def test_reply_starting_with_on_is_kept(name: str) -> None:
    text = visible_text(_body(name))
    assert text.startswith("On your remote host you can run:")
    assert "telnet 127.0.0.1 52698" in text and "This should connect to TextMate" in text
    assert "George Plymale wrote" not in text and "odd issue" not in text


def test_device_signature_is_dropped() -> None:
    assert visible_text(_body("erp__email_iPhone.eml")).strip() == "Here is another email"


def test_pathological_quoting_finishes() -> None:
    text = visible_text(_body("erp__pathological.eml"))
    assert isinstance(text, str)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Thanks!\n\nOn Mon, 2 Mar 2026 at 10:00, Bob <b@x.org> wrote:\n> old\n", "Thanks!"),
        ("Danke\n\nAm 02.03.2026 um 10:00 schrieb Bob <b@x.org>:\n> alt\n", "Danke"),
        ("Merci\n\nLe 2 mars 2026 à 10:00, Bob <b@x.org> a écrit :\n> vieux\n", "Merci"),
        ("Gracias\n\nEl 2 mar 2026, a las 10:00, Bob <b@x.org> escribió:\n> viejo\n", "Gracias"),
        ("Спасибо\n\n2 марта 2026 г., в 10:00, Боб <b@x.org> написал:\n> старое\n", "Спасибо"),
        ("Fixed.\n\n-----Original Message-----\nFrom: Bob\nSent: Monday\n\nold text\n", "Fixed."),
        ("Ok\n\nFrom: Bob <b@x.org>\nSent: Monday, March 2, 2026\nTo: support\n\nold\n", "Ok"),
        ("Готово\n\n-----Исходное сообщение-----\nОт: Боб\nТема: x\n\nстарое\n", "Готово"),
        ("> question?\nanswer\n\n> second?\nanswer two\n", "answer\n\nanswer two"),
        ("Text\n-- \nBob\nACME\n", "Text"),
        ("> only a quote\n", ""),
        (
            "From my experience this fails.\nAnd more.\n",
            "From my experience this fails.\nAnd more.",
        ),
    ],
)
def test_visible_text_table(text: str, expected: str) -> None:
    assert visible_text(text).strip() == expected


@given(st.text())
def test_never_raises_and_only_keeps_input_lines(text: str) -> None:
    result = visible_text(text)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").removeprefix("\ufeff").split("\n")
    source = {line.rstrip() for line in lines}
    assert all(line.rstrip() in source for line in result.split("\n")[:-1])
