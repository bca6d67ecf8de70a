"""`maildesk check` on rule files and templates: problems name the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2.exceptions import SecurityError, UndefinedError

from maildesk.render import TemplateSet, template_problems
from maildesk.routing.rules import rule_problems
from maildesk.starter import starter_dir


def test_shipped_rules_and_templates_are_clean() -> None:
    assert rule_problems(starter_dir("rules")) == []
    assert template_problems(starter_dir("templates")) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "- name: a\n  then: [\n",
            ["3: invalid YAML: expected the node content, but found '<stream end>'"],
        ),
        ("name: a\nthen: {}\n", ["1: expected a list of rules (each starting with '- name:')"]),
        ("- just a string\n", ["1: a rule must be a mapping with name, when and then"]),
        ("- name: a\n  when: {}\n", ['1: rule has no "then"']),
        (
            "- name: a\n  then: {}\n  colour: red\n",
            ['3: unknown key "colour" (rule keys: name, when, then, stop, on)'],
        ),
        (
            "- name: a\n  then: {}\n- name: b\n  when: [x]\n  then: {}\n",
            ["4: when must be a mapping"],
        ),
        ("- name: [a]\n  then: {}\n", ["1: name must be a non-empty string"]),
        ("", []),
        ("# only a comment\n", []),
    ],
)
def test_rule_file_problems(tmp_path: Path, text: str, expected: list[str]) -> None:
    (tmp_path / "10-test.yaml").write_text(text)
    prefix = f"{tmp_path / '10-test.yaml'}:"
    found = [str(p).removeprefix(prefix) for p in rule_problems(tmp_path)]
    assert found == expected


def test_rules_folder_missing(tmp_path: Path) -> None:
    assert [str(p) for p in rule_problems(tmp_path / "nope")] == [
        f"{tmp_path / 'nope'}: rules folder not found"
    ]


def test_only_yaml_files_are_rules(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("- not: [a rule\n")
    (tmp_path / "notes.yaml~").write_text("- not: [a rule\n")
    assert rule_problems(tmp_path) == []


def test_template_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "ok.en.txt").write_text("Hello {{ customer.name }}\n")
    (tmp_path / "bad.en.html").write_text("<p>\n{% if x %}\nno end\n")
    [problem] = template_problems(tmp_path)
    assert problem.where == f"{tmp_path / 'bad.en.html'}:2"  # the unclosed {% if %}
    assert "endif" in problem.what


def test_customer_text_cannot_run_template_code(tmp_path: Path) -> None:
    (tmp_path / "ack.en.txt").write_text("Re: {{ ticket.subject }}")
    env = TemplateSet(tmp_path).env
    evil = "{{ ''.__class__.__mro__[1].__subclasses__() }}"
    assert env.get_template("ack.en.txt").render(ticket={"subject": evil}) == f"Re: {evil}"


def test_sandbox_blocks_unsafe_attributes_in_templates(tmp_path: Path) -> None:
    (tmp_path / "bad.en.txt").write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(SecurityError):
        TemplateSet(tmp_path).env.get_template("bad.en.txt").render()


def test_unknown_variable_is_an_error_not_a_blank(tmp_path: Path) -> None:
    (tmp_path / "t.en.txt").write_text("Hi {{ custmer.name }}")
    with pytest.raises(UndefinedError):
        TemplateSet(tmp_path).env.get_template("t.en.txt").render(customer={"name": "A"})


def test_html_templates_escape_values(tmp_path: Path) -> None:
    (tmp_path / "t.en.html").write_text("<p>{{ subject }}</p>")
    html = TemplateSet(tmp_path).env.get_template("t.en.html").render(subject="<script>x")
    assert html == "<p>&lt;script&gt;x</p>"


def test_templates_are_rendered_with_sample_data(tmp_path: Path) -> None:
    (tmp_path / "ok.en.txt").write_text("Subject: {{ ticket.token }}\nHi {{ customer.name }}\n")
    (tmp_path / "typo.en.txt").write_text("Hello\n{{ custmer.name }}\n")
    [problem] = template_problems(tmp_path)
    assert problem.where == f"{tmp_path / 'typo.en.txt'}:2"
    assert "custmer" in problem.what


def test_required_templates_must_exist(tmp_path: Path) -> None:
    from maildesk.render import missing_templates

    (tmp_path / "acknowledgement.de.txt").write_text("Hallo\n")
    assert [p.what for p in missing_templates(TemplateSet(tmp_path), "de")] == [
        f"template missing (the {event} mail cannot be written)"
        for event in (
            "notification",
            "reply",
            "status",
            "customer_reply",
            "command_error",
            "agent_copy",
            "sla_reminder",
            "sla_breach",
            "sla_digest",
            "survey",
            "survey_low",
        )
    ]
    # English is the fallback.
    assert missing_templates(TemplateSet(starter_dir("templates")), "fr") == []


def test_subject_line_and_language_fallback() -> None:
    from maildesk.render import render_event, sample_context

    templates = TemplateSet(starter_dir("templates"))
    ru = render_event(templates, "acknowledgement", ["ru", "en"], sample_context())
    assert ru.language == "ru" and ru.subject == "[#1042] Printer on fire"
    assert ru.text.startswith("Здравствуйте, Alice Example!")
    de = render_event(templates, "acknowledgement", ["de", "en"], sample_context())
    assert de.language == "en" and de.text.startswith("Hello Alice Example")
