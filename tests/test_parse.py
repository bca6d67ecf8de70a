"""Parsing: any charset, broken MIME, safe attachment names; nothing raises but Quarantined."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maildesk.errors import Quarantined
from maildesk.parse import Limits, guess_8bit, parse_mail, safe_filename
from tests.corpus import CORPUS, need_corpus

# (file, subject, sender, start of the text) as the corpus notes describe them.
CHARSETS = [
    (
        "charsets/djhelpdesk__all-special-chars.eml",
        "Testovácí email",
        "timothy.hobbs@auto-mat.cz",
        "íářčšáíéřášč",
    ),
    ("charsets/redmine__gmail-iso8859-2.eml", "Nikad više", "jsmith@somenet.foo", "Na štriku"),
    (
        "charsets/rt__8859-15-message-series-msg1.eml",
        "test äöüßÄÖÜß€",
        "pape@inf.fu-berlin.de",
        "test nochmal",
    ),
    ("charsets/rt__new-ticket-from-gb18030.eml", "测试", "root@localhost", "测试"),
    (
        "charsets/rt__russian-subject-no-content-type.eml",
        "тест тест",
        "mitya@fling-wing.example.com",
        "ТЕСТ",
    ),
    (
        "charsets/rubymail__raw_email.eml",
        "NOTE: 한국말로 하는 것",
        "jamis@37signals.com",
        "대부분의",
    ),
    (
        "charsets/rubymail__japanese_iso_2022.eml",
        "まみむめも",
        "raasdnil@gmail.com",
        "すみません。",
    ),
    ("charsets/rubymail__utf8_headers.eml", "Säying Hello", "jdöe@mächine.example", "body"),
    ("charsets/phpimap__mixed_filename.eml", "Свежий прайс-лист", "support@part-kom.ru", ""),
    ("charsets/phpmmp__issue116.eml", "ЖД№41 от 28.09.2016", None, "toto"),
    (
        "charsets/redmine__subject_japanese_3.eml",
        "① 丸数字テスト",
        "jsmith@somenet.foo",
        "The subject",
    ),
    (
        "charsets/hunnysoft__m0001.eml",
        "Die Hasen und die Frösche (Microsoft Outlook 00)",
        "doug@example.com",
        "Die Hasen und die Frösche",
    ),
    (
        "charsets/mimekit__japanese.eml",
        "日本語メールテスト (testing Japanese emails)",
        "x@x.com",
        "",
    ),
    (
        "charsets/phpimap__ks_c_5601-1987_headers.eml",
        "RE: 회원님께 Ersi님이 메시지를 보냈습니다.",
        "from@there.com",
        "",
    ),
    ("charsets/rubymail__japanese_shift_jis.eml", "test", "xxxxxxx@docomo.ne.jp", "あいうえお"),
    ("charsets/mailparser__mail_test_12.eml", "代开各地增值税发票", "baoguan@hotmail.com", "你好"),
    ("replies/rt__new-ticket-from-iso-8859-1.eml", "Re: rt-3.0.3pre1", "hw@nordkapp.net", "Håvard"),
]


@pytest.mark.parametrize(
    ("path", "subject", "sender", "text"), CHARSETS, ids=[c[0].split("/")[1] for c in CHARSETS]
)
def test_charsets_decode(path: str, subject: str, sender: str | None, text: str) -> None:
    need_corpus()
    mail = parse_mail((CORPUS / path).read_bytes())
    assert mail.subject == subject
    assert (mail.sender.address if mail.sender else None) == sender
    assert mail.text.strip().startswith(text)


@pytest.mark.parametrize(
    ("path", "filename"),
    [
        ("charsets/mimetools__russian.eml", "Список.doc"),
        ("charsets/redmine__thunderbird_with_attachment_ja.eml", "テスト.txt"),
        ("charsets/rubymail__attachment_nonascii_filename.eml", "ciële.txt"),
    ],
)
def test_attachment_names_decode(path: str, filename: str) -> None:
    need_corpus()
    names = [p.filename for p in parse_mail((CORPUS / path).read_bytes()).parts]
    assert filename in names


def test_display_name_with_raw_latin1() -> None:
    need_corpus()
    mail = parse_mail((CORPUS / "replies/phpmmp__m0019.eml").read_bytes())
    assert mail.sender is not None and mail.sender.name == "sendeär"


def multipart(*parts: str) -> bytes:
    body = "".join(f"--b\r\n{p}\r\n" for p in parts)
    return (
        f"From: a@example.org\r\nTo: support@example.com\r\nSubject: parts\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n{body}--b--\r\n"
    ).encode()


def test_attachments_inline_images_nested_mail_and_winmail() -> None:
    raw = multipart(
        "Content-Type: text/plain; charset=utf-8\r\n\r\nSee attached.",
        'Content-Type: application/pdf; name="../../etc/passwd"\r\n'
        'Content-Disposition: attachment; filename="../../etc/passwd"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK",
        "Content-Type: image/png\r\nContent-ID: <logo@x>\r\nContent-Disposition: inline\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=",
        "Content-Type: message/rfc822\r\n\r\nFrom: b@example.org\r\nSubject: Original\r\n\r\nold",
        "Content-Type: application/ms-tnef; name=winmail.dat\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\neJ8+IgAA",
    )
    mail = parse_mail(raw)
    assert mail.text.strip() == "See attached."
    names = {p.filename: p for p in mail.parts}
    assert set(names) == {"passwd", "attachment-2.png", "Original.eml", "winmail.dat"}
    assert names["passwd"].content == b"%PDF-1.4\n" and names["passwd"].size == 9
    assert names["attachment-2.png"].inline and names["attachment-2.png"].content_id == "<logo@x>"
    assert names["Original.eml"].content_type == "message/rfc822"
    assert any("winmail.dat" in note for note in mail.notes)


def test_attachment_over_the_limit_is_noted_not_kept() -> None:
    raw = multipart(
        "Content-Type: text/plain\r\n\r\nhi",
        "Content-Type: application/octet-stream; name=big.bin\r\n"
        "Content-Disposition: attachment; filename=big.bin\r\n\r\n" + "x" * 5000,
    )
    mail = parse_mail(raw, Limits(max_attachment_size=1000))
    [part] = mail.parts
    assert part.content is None and part.size >= 5000
    assert any("over the size limit" in n for n in mail.notes)


def test_html_only_mail_gets_text_and_sanitized_html() -> None:
    raw = (
        b"From: a@example.org\r\nSubject: h\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b"<p>Hello <b>you</b></p><script>alert(1)</script><img src=x onerror=alert(2)>"
    )
    mail = parse_mail(raw)
    assert mail.text.strip() == "Hello you"
    assert mail.html is not None and "script" not in mail.html and "onerror" not in mail.html


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Windows\\evil.exe", "evil.exe"),
        (".hidden", "hidden"),
        ("a\x00b\r\nc.txt", "a_b__c.txt"),
        ("", "attachment-3.pdf"),
        ("..", "attachment-3.pdf"),
        ("x" * 300 + ".pdf", "x" * 196 + ".pdf"),
    ],
)
def test_safe_filenames(name: str, safe: str) -> None:
    assert safe_filename(name, "application/pdf", 3) == safe


def test_guess_8bit() -> None:
    assert guess_8bit("привет".encode("koi8_r")) == "привет"
    assert guess_8bit("привет".encode("cp1251")) == "привет"
    assert guess_8bit("Grüße".encode("cp1252")) == "Grüße"
    assert guess_8bit("ok ✓".encode()) == "ok ✓"


def test_message_id_without_brackets_and_references() -> None:
    raw = (
        b"From: a@example.org\r\nMessage-ID: abc@x\r\nIn-Reply-To: <p@x> (comment)\r\n"
        b"References: <1@x>\r\n <2@x>  <1@x>\r\n\r\nb"
    )
    mail = parse_mail(raw)
    assert (mail.message_id, mail.in_reply_to, mail.references) == (
        "<abc@x>",
        "<p@x>",
        ("<1@x>", "<2@x>"),
    )


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_random_bytes_parse_or_quarantine(raw: bytes) -> None:
    try:
        mail = parse_mail(raw)
    except Quarantined as exc:
        assert exc.reason
    else:
        assert isinstance(mail.subject, str) and isinstance(mail.text, str)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200), st.text(max_size=200), st.binary(max_size=500))
def test_random_headers_parse_or_quarantine(subject: str, name: str, body: bytes) -> None:
    raw = (f"From: {name} <a@example.org>\r\nSubject: {subject}\r\n\r\n").encode(
        "utf-8", "surrogatepass"
    ) + body
    try:
        mail = parse_mail(raw)
    except Quarantined as exc:
        assert exc.reason
    else:
        assert "\n" not in mail.subject and "\r" not in mail.subject


def test_what_fuzzing_found_is_handled() -> None:
    """Cases from tests/reliability/test_mutations.py that used to go wrong."""
    # A NUL byte in a charset label made codecs.lookup raise ValueError.
    nul = b"From: a@example.org\r\nContent-Type: text/plain; charset=utf-8\x00\r\n\r\nhi"
    assert parse_mail(nul, Limits()).text.strip() == "hi"
    # A 200 KB subject is cut at 998 characters (RFC 5322's line), not carried whole.
    long = b"From: a@example.org\r\nSubject: " + b"word " * 40000 + b"\r\n\r\nhi"
    subject = parse_mail(long, Limits()).subject
    assert len(subject) == 998 and subject.endswith("…")
