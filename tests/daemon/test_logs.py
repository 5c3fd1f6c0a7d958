"""One privacy filter for every log record; logfmt and JSON lines."""

from __future__ import annotations

import io
import json
import logging

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
