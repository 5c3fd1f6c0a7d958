"""Templates with an HTML part: ``<name>.<locale>.txt.j2`` plus ``<name>.<locale>.html.j2``."""

from __future__ import annotations

from pathlib import Path

from dispatcher.config.templates import (
    TemplateSet,
    sample_context,
    split_template_path,
    template_key,
)


def write(root: Path, path: str, text: str) -> None:
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    (root / path).write_text(text, encoding="utf-8")


SUBJECT = '{# meta\nsubject = "{{ company }}: case {{ case.id }}"\n#}\n'


def test_text_and_html_parts_render_together_and_only_html_is_escaped(tmp_path: Path) -> None:
    write(tmp_path, "email/notice.en.txt.j2", SUBJECT + "Dear {{ person.name }}")
    write(tmp_path, "email/notice.en.html.j2", "<p>Dear {{ person.name }}</p>")
    templates = TemplateSet(tmp_path, variables={"company": "Smith & Sons"})
    context = sample_context()
    context["person"]["name"] = "Ann <b>O'Neil</b>"

    rendered = templates.render("email", "notice", "en", context)

    assert rendered.body == "Dear Ann <b>O'Neil</b>"
    assert rendered.html == "<p>Dear Ann &lt;b&gt;O&#39;Neil&lt;/b&gt;</p>"
    assert rendered.subject == "Smith & Sons: case C-SAMPLE", "a subject is never HTML-escaped"
    assert rendered.template_file == "email/notice.en.txt.j2"


def test_a_plain_template_has_no_html_part(tmp_path: Path) -> None:
    write(tmp_path, "sms/notice.en.j2", "Hello {{ person.first_name }}")
    rendered = TemplateSet(tmp_path).render("sms", "notice", "en", sample_context())
    assert (rendered.body, rendered.html) == ("Hello Sample", None)


def test_the_html_part_follows_the_locale_of_the_text_part(tmp_path: Path) -> None:
    write(tmp_path, "email/notice.en.txt.j2", "Hello")
    write(tmp_path, "email/notice.en.html.j2", "<p>Hello</p>")
    write(tmp_path, "email/notice.zh-CN.txt.j2", "您好")
    write(tmp_path, "email/notice.zh-CN.html.j2", "<p>您好</p>")
    templates = TemplateSet(tmp_path, locales=("en", "zh-CN"))
    assert templates.render("email", "notice", "zh-CN", sample_context()).html == "<p>您好</p>"
    assert templates.render("email", "notice", "zh", sample_context()).html == "<p>Hello</p>"


def test_check_reports_a_broken_html_part_with_its_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, "email/notice.en.txt.j2", "Hello {{ person.name }}")
    write(tmp_path, "email/notice.en.html.j2", "<p>Hello</p>\n<p>{{ case.nonexistent }}</p>")
    write(tmp_path, "email/other.en.txt.j2", "Hello")
    write(tmp_path, "email/other.en.html.j2", "<p>{{ person.name }</p>")
    templates = TemplateSet(tmp_path)

    [undefined] = templates.check("email", "notice")
    [syntax] = templates.check("email", "other")

    assert (undefined.file, undefined.line, undefined.key) == (
        "templates/email/notice.en.html.j2",
        2,
        "email/notice.en.html",
    )
    assert "nonexistent" in undefined.message
    assert (syntax.file, syntax.key) == ("templates/email/other.en.html.j2", "email/other.en.html")
    assert syntax.message.startswith("syntax error")


def test_template_paths_split_into_channel_name_and_locale() -> None:
    assert split_template_path("email/overdue_email.zh-CN.html.j2") == (
        "email",
        "overdue_email",
        "zh-CN",
    )
    assert split_template_path("sms/first_notice.en.j2") == ("sms", "first_notice", "en")
    assert template_key("email/overdue_email.en.txt.j2") == "email/overdue_email.en"
