"""One privacy filter for every log record; logfmt and JSON lines."""

from __future__ import annotations

import io
import json
import logging
import os

import pytest

from dispatcher.daemon.logs import PrivacyFilter, StructuredFormatter


def _emit(
    style: str, message: str, *args: object, fields: dict | None = None, exc: bool = False
) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(PrivacyFilter())
    handler.setFormatter(StructuredFormatter(style))
    logger = logging.getLogger(f"test.logs.{style}.{id(stream)}")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        if exc:
            try:
                raise RuntimeError("provider rejected +14155550123 for anna@example.com")
            except RuntimeError:
                logger.exception(message, *args, extra={"fields": fields or {}})
        else:
            logger.info(message, *args, extra={"fields": fields or {}})
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


@pytest.mark.parametrize("style", ["logfmt", "json"])
def test_personal_fields_are_masked_by_name(style: str) -> None:
    line = _emit(
        style,
        "sent",
        fields={
            "to": "+8613800138000",
            "email": "wei.wang@example.cn",
            "name": "Wang Wei",
            "address": "1 Main Street, Springfield",
            "contact": "anna@example.com",
            "reminder": 7,
        },
    )
    for raw in (
        "+8613800138000",
        "wei.wang@example.cn",
        "Wang Wei",
        "Main Street",
        "anna@example.com",
    ):
        assert raw not in line
    assert "W. W." in line and "w***@example.cn" in line and "[postal address]" in line
    if style == "json":
        record = json.loads(line)
        assert record["to"] == "+***********00" and record["reminder"] == 7


def test_numbers_and_emails_in_free_text_and_tracebacks_are_masked() -> None:
    line = _emit("logfmt", "provider said %s", "invalid number +442079460123", exc=True)
    assert "+442079460123" not in line and "anna@example.com" not in line
    assert "+**********23" in line
    assert "RuntimeError" in line, "the traceback is kept, masked"


def test_dates_and_ids_are_left_alone() -> None:
    line = _emit(
        "logfmt", "claimed batch", fields={"until": "2026-11-30 08:00:00", "case": "C-1001"}
    )
    assert "2026-11-30 08:00:00" in line and "C-1001" in line


def test_logfmt_quotes_values_with_spaces() -> None:
    line = _emit("logfmt", "two words", fields={"detail": 'say "hi" now'})
    assert 'msg="two words"' in line and 'detail="say \\"hi\\" now"' in line


def test_libraries_speak_only_of_problems(capsys: pytest.CaptureFixture[str]) -> None:
    """A letter's font subsetting or an HTTP client's request log is no journal line."""
    from dispatcher.daemon.logs import setup_logging

    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        setup_logging("logfmt", "info")
        logging.getLogger("fontTools.subset").info("glyf subsetted")
        logging.getLogger("twilio.http_client").info("POST Request")
        logging.getLogger("dispatcher.test").info("ours")
        logging.getLogger("fontTools.subset").warning("font broken")
    finally:
        root.handlers[:], root.level = saved
    out = capsys.readouterr().out
    assert "glyf subsetted" not in out and "POST Request" not in out
    assert "ours" in out and "font broken" in out


# -- the journal --------------------------------------------------------------------------


def test_a_stream_is_the_journal_only_when_journal_stream_names_its_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from dispatcher.daemon.logs import on_journal

    with (tmp_path / "journal").open("w") as journal, (tmp_path / "other").open("w") as other:
        stat = os.fstat(journal.fileno())
        env = {"JOURNAL_STREAM": f"{stat.st_dev}:{stat.st_ino}"}
        assert on_journal(journal, env)
        assert not on_journal(other, env), "a stream redirected elsewhere keeps the variable"
        assert not on_journal(journal, {})
        assert not on_journal(journal, {"JOURNAL_STREAM": "garbage"})
    assert not on_journal(io.StringIO(), env)


@pytest.mark.parametrize("style", ["logfmt", "json"])
def test_on_the_journal_each_line_starts_with_its_syslog_priority(style: str) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(PrivacyFilter())
    handler.setFormatter(StructuredFormatter(style, priorities=True))
    logger = logging.getLogger(f"test.journal.{style}")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        logger.critical("c")
        logger.error("e")
        logger.warning("w")
        logger.info("i")
        logger.debug("d")
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert [line[:3] for line in lines] == ["<2>", "<3>", "<4>", "<6>", "<7>"]
    if style == "json":
        assert json.loads(lines[1][3:])["msg"] == "e"


def test_a_fatal_error_is_one_line_and_its_traceback_only_at_debug() -> None:
    from dispatcher.daemon.logs import fatal

    def emitted(level: int) -> list[str]:
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.addFilter(PrivacyFilter())
        handler.setFormatter(StructuredFormatter("logfmt"))
        logger = logging.getLogger(f"test.fatal.{level}")
        logger.propagate = False
        logger.addHandler(handler)
        logger.setLevel(level)
        try:
            try:
                raise OSError("unable to open database file\nSELECT * FROM people WHERE x")
            except OSError as exc:
                fatal(logger, "dispatcher cannot start", exc)
        finally:
            logger.removeHandler(handler)
        return stream.getvalue().splitlines()

    [line] = emitted(logging.INFO)
    assert 'msg="dispatcher cannot start"' in line and "level=error" in line
    assert 'error="OSError: unable to open database file"' in line
    assert "SELECT" not in line and "Traceback" not in line
    error, traceback = emitted(logging.DEBUG)
    assert error.split(" ", 1)[1] == line.split(" ", 1)[1].replace("fatal.20", "fatal.10")
    assert "level=debug" in traceback and "Traceback" in traceback
