"""The new part of an HTML reply (htmlreply.py): each client's quote style, the corpus'
real HTML replies against their expected text, commands, images, sanitizing."""

from __future__ import annotations

from pathlib import Path

import pytest

from maildesk.htmlreply import reply_html, with_images, words
from maildesk.htmltext import html_to_text
from maildesk.mail import Part
from maildesk.parse import parse_mail
from maildesk.visible import visible_text
from tests.corpus import CORPUS, need_corpus

NEW = "Please restart the printer, that fixes it."
OLD = "It burns and smokes."

# How each client marks the history below a reply, cut down to the marks that matter
# (the structure and attributes are the clients' own).
CLIENTS = {
    "gmail": (
        '<div dir="ltr">Please <b>restart</b> the printer, that fixes it.</div><br>'
        '<div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Fri, Nov 20, 2026 at'
        " 9:00 AM Example Support &lt;support@example.com&gt; wrote:<br></div>"
        '<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid'
        ' rgb(204,204,204);padding-left:1ex">It burns and smokes.</blockquote></div>'
    ),
    "outlook": (
        '<div class="WordSection1"><p class="MsoNormal">Please <b>restart</b> the printer, that'
        ' fixes it.<o:p></o:p></p><p class="MsoNormal"><o:p>&nbsp;</o:p></p>'
        '<div><div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">'
        '<p class="MsoNormal"><b>From:</b> Example Support &lt;support@example.com&gt;<br>'
        "<b>Sent:</b> Friday, November 20, 2026 9:00 AM<br><b>Subject:</b> [#7] Printer on fire"
        '</p></div></div><p class="MsoNormal">It burns and smokes.</p></div>'
    ),
    "outlook_web": (
        '<div dir="ltr"><div style="font-family:Calibri,Arial,Helvetica,sans-serif">Please '
        "<b>restart</b> the printer, that fixes it.</div></div>"
        '<div id="appendonsend"></div><hr style="display:inline-block;width:98%">'
        '<div id="divRplyFwdMsg" dir="ltr"><b>From:</b> Example Support<br><b>Sent:</b> Friday'
        "</div><div>It burns and smokes.</div>"
    ),
    "thunderbird": (
        "<p>Please <b>restart</b> the printer, that fixes it.<br></p>"
        '<div class="moz-cite-prefix">On 20.11.2026 09:00, Example Support wrote:<br></div>'
        '<blockquote type="cite" cite="mid:md.7.abc@example.com">It burns and smokes.'
        "</blockquote>"
    ),
    "apple_mail": (
        '<div dir="auto">Please <b>restart</b> the printer, that fixes it.<br><div><br>'
        '<blockquote type="cite"><div>On 20 Nov 2026, at 09:00, Example Support'
        " &lt;support@example.com&gt; wrote:</div><br><div><div>It burns and smokes.</div>"
        "</div></blockquote></div></div>"
    ),
    "yahoo": (
        '<div class="ydp1"><div>Please <b>restart</b> the printer, that fixes it.</div></div>'
        '<div id="yahoo_quoted_123" class="yahoo_quoted"><div>On Friday, November 20, 2026,'
        " Example Support &lt;support@example.com&gt; wrote:</div><div>It burns and smokes."
        "</div></div>"
    ),
    # No marks at all: the text rules find "-----Original Message-----".
    "plain_outlook": (
        "<div>Please <b>restart</b> the printer, that fixes it.</div><div><br></div>"
        "<div>-----Original Message-----<br>From: Example Support<br>Sent: Friday<br>"
        "To: Bob<br>Subject: [#7]</div><div>It burns and smokes.</div>"
    ),
}


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_each_clients_history_is_cut_and_the_formatting_kept(client: str) -> None:
    relayed = reply_html(CLIENTS[client], NEW)
    assert relayed is not None
    assert "<b>restart</b>" in relayed
    assert "burns" not in relayed and "wrote" not in relayed and "From:" not in relayed
    assert words(html_to_text(relayed)) == words(NEW)
    # The sender's own marks are not sent on.
    assert "class=" not in relayed and "id=" not in relayed


def test_commands_above_the_reply_are_left_out() -> None:
    html = "<div>#status resolved</div><div>#assign me</div><div>" + NEW + "</div>"
    relayed = reply_html(html, NEW)
    assert relayed is not None and "#status" not in relayed and "#assign" not in relayed
    assert NEW in relayed


def test_html_that_says_more_or_other_than_the_text_is_not_used() -> None:
    # Interleaved answers: the text path keeps both answers, the HTML cannot be cut so.
    interleaved = (
        "<div>Hello,</div><blockquote type=cite>Question one?</blockquote><div>Answer one."
        "</div><blockquote type=cite>Question two?</blockquote><div>Answer two.</div>"
    )
    text = visible_text(html_to_text(interleaved))
    assert "Answer two" in text
    assert reply_html(interleaved, text) is None
    # A macro's text is in the relayed text, not in the agent's HTML.
    assert reply_html(f"<div>#macro restart</div><div>{NEW}</div>", NEW + "\nRestart it.") is None
    assert reply_html("<div>#note</div><div>secret</div>", "") is None


def test_a_signature_goes_unless_kept() -> None:
    html = f"<div>{NEW}</div><div>-- </div><div>Bob Agent<br>Example Corp, +1 555 0100</div>"
    stripped = reply_html(html, NEW)
    assert stripped is not None and "555" not in stripped
    text = visible_text(html_to_text(html), signatures=False)
    kept = reply_html(html, text, signatures=False)
    assert kept is not None and "555 0100" in kept


@pytest.mark.parametrize(
    "attack",
    [
        "<script>alert(1)</script>",
        '<img src="https://tracker.example/p.gif" width=1 height=1>',
        '<img src="x" onerror="alert(1)">',
        '<a href="javascript:alert(1)">click</a>',
        '<div style="background:url(https://tracker.example/x)">x</div>',
        "<style>body{background:url(https://tracker.example/y)}</style>",
        '<iframe src="https://evil.example/"></iframe>',
        '<form action="https://evil.example/"><input name=p></form>',
        '<link rel=stylesheet href="https://evil.example/s.css">',
        '<svg onload="alert(1)"><circle r=1></svg>',
        '<a href="&#106;avascript:alert(1)">x</a>',
    ],
)
def test_nothing_runs_or_loads(attack: str) -> None:
    relayed = reply_html(f"<div>{NEW}</div>{attack}", NEW)
    if relayed is None:  # the attack's own text made it say more than the text: not used
        return
    lowered = relayed.lower()
    for bad in (
        "<script",
        "onerror",
        "onload",
        "javascript:",
        "url(",
        "<iframe",
        "<form",
        "<link",
        "<style",
        "<svg",
        "https://tracker",
        "https://evil",
    ):
        assert bad not in lowered, (attack, relayed)


def test_inline_images_travel_under_our_content_ids() -> None:
    html = (
        f'<div>{NEW}<br><img src="cid:image001.png@01DA1234.ABCD" alt="shot" width=300></div>'
        '<div class="gmail_quote"><img src="cid:logo@example.com"></div>'
    )
    parts = (
        Part("image001.png", "image/png", 4, b"\x89PNG", "<image001.png@01DA1234.ABCD>", True),
        Part("logo.png", "image/png", 4, b"\x89PNG2", "<logo@example.com>", True),
    )
    relayed = reply_html(html, NEW)
    assert relayed is not None
    markup, inline = with_images(relayed, parts, "example.com")
    [(cid, name, ctype, content)] = inline  # the quoted logo stays behind
    assert (name, ctype, content) == ("image001.png", "image/png", b"\x89PNG")
    assert cid.endswith("@example.com") and "01DA1234" not in markup
    assert f'src="cid:{cid}"' in markup
    # An image whose part is missing (or was too large to keep) becomes its alt text.
    gone, none = with_images(relayed, (), "example.com")
    assert none == () and "<img" not in gone and "[shot]" in gone


def _talon(name: str) -> Path:
    need_corpus()
    return CORPUS / "replies" / f"talon__{name}.eml"


# The talon corpus' HTML replies: each client's HTML cut to what talon expects.
# Outlook's sample is left out on purpose: its HTML part says "Allo! Follow up MIME!"
# where its text says "Hello", and such a mail must go out from its text.
@pytest.mark.parametrize("name", ["gmail", "android", "aol", "comcast", "hotmail", "sparrow"])
def test_corpus_html_replies_give_the_expected_text(name: str) -> None:
    path = _talon(name)
    mail = parse_mail(path.read_bytes())
    assert mail.html is not None
    expected = visible_text(path.with_suffix(".expected.txt").read_text())
    relayed = reply_html(mail.html, visible_text(mail.text))
    assert relayed is not None
    assert words(html_to_text(relayed)) == words(expected)


def test_html_that_contradicts_the_text_goes_out_from_the_text() -> None:
    mail = parse_mail(_talon("outlook").read_bytes())
    assert mail.html is not None and "Allo" in mail.html
    assert reply_html(mail.html, visible_text(mail.text)) is None


def test_very_large_html_goes_out_as_text() -> None:
    from dataclasses import replace

    from maildesk.htmlreply import MAX_HTML, new_html

    mail = parse_mail(b"From: a@example.org\r\nContent-Type: text/html\r\n\r\n<p>Hi</p>")
    assert new_html(mail, "Hi", "example.com")[0] == "<p>Hi</p>"
    huge = replace(mail, html="<p>Hi</p>" + "<!-- -->" + " " * MAX_HTML)
    assert new_html(huge, "Hi", "example.com") == (None, ())
