"""Signed links to the person's page: made and read back, any change refused as altered, a
link past its last day expired, the CSRF value bound to one link, the secret's problems."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatcher.config.dispatcher_file import SelfServiceSettings
from dispatcher.links import LinkSigner, LinkState, build_signer

NOW = datetime(2026, 3, 10, 23, 59, tzinfo=UTC)
SIGNER = LinkSigner(b"k" * 32, "https://pay.example.com", 30)


def _token(url: str) -> str:
    return url.rsplit("/s/", 1)[1]


def test_a_link_names_its_case_and_lasts_link_days_to_the_end_of_the_day() -> None:
    url = SIGNER.url("C-17/β", NOW)
    assert url.startswith("https://pay.example.com/s/")
    token = _token(url)
    assert "C-17" not in token  # encoded, not written out
    check = SIGNER.check(token, NOW)
    assert (check.state, check.case_id, check.last_day) == (
        LinkState.VALID,
        "C-17/β",
        date(2026, 4, 9),
    )
    assert SIGNER.check(token, datetime(2026, 4, 9, 23, 59, tzinfo=UTC)).state is LinkState.VALID
    expired = SIGNER.check(token, datetime(2026, 4, 10, 0, 0, tzinfo=UTC))
    assert (expired.state, expired.case_id) == (LinkState.EXPIRED, "C-17/β")
    # The same day gives the same link: every message of a day carries one.
    assert SIGNER.url("C-17/β", NOW - timedelta(hours=23)) == url


def _changed(token: str) -> list[str]:
    case, day, tag = token.split(".")
    other_case = SIGNER.token("C-18", date(2026, 4, 9)).split(".")[0]
    flip = "A" if tag[-1] != "A" else "B"
    return [
        f"{other_case}.{day}.{tag}",  # another case, same tag
        f"{case}.{int(day) + 30}.{tag}",  # a later last day
        f"{case}.{day}.{tag[:-1]}{flip}",  # the tag changed
        f"{case}.{day}.{tag[:-2]}",  # cut short
        f"{case}.{day}",
        f"{case}.{day}.{tag}.x",
        f"{case}.-1.{tag}",
        f"{case}.{day}.{tag}=",
        "",
        "..",
        "x" * 5000,
        f"{case}.{day}.%%%%",
        f"{case}.{day[:-1]}٣.{tag}",  # a digit of another script
        f"é{case}.{day}.{tag}",
    ]


def test_any_change_to_a_link_is_refused_as_altered() -> None:
    token = SIGNER.token("C-17", date(2026, 4, 9))
    for bad in _changed(token):
        assert SIGNER.check(bad, NOW).state is LinkState.ALTERED, bad
    other_key = LinkSigner(b"z" * 32, SIGNER.base_url, 30)
    assert other_key.check(token, NOW).state is LinkState.ALTERED


def test_the_csrf_value_belongs_to_one_link() -> None:
    one, two = SIGNER.token("C-1", date(2026, 4, 9)), SIGNER.token("C-2", date(2026, 4, 9))
    assert SIGNER.csrf_ok(one, SIGNER.csrf(one))
    assert not SIGNER.csrf_ok(one, SIGNER.csrf(two))
    assert not SIGNER.csrf_ok(one, "")
    assert not SIGNER.csrf_ok(one, "é" * 22)


def _settings(secret: str) -> SelfServiceSettings:
    return SelfServiceSettings(base_url="https://pay.example.com/", secret=secret)


def test_the_signer_comes_from_the_secret_or_says_why_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert build_signer(None) == (None, "no [self_service] in dispatcher.toml")
    monkeypatch.delenv("SS_TEST_SECRET", raising=False)
    signer, why = build_signer(_settings("${SS_TEST_SECRET}"))
    assert signer is None and why and "SS_TEST_SECRET is not set" in why
    monkeypatch.setenv("SS_TEST_SECRET", "qzx-7")
    signer, why = build_signer(_settings("${SS_TEST_SECRET}"))
    assert signer is None and why and "shorter than 16" in why and "qzx-7" not in why
    monkeypatch.setenv("SS_TEST_SECRET", "s" * 40)
    signer, why = build_signer(_settings("${SS_TEST_SECRET}"))
    assert why is None and signer is not None and signer.base_url == "https://pay.example.com"


def test_the_settings_refuse_a_written_secret_and_bad_urls() -> None:
    with pytest.raises(ValueError, match="never the secret itself"):
        SelfServiceSettings(base_url="https://pay.example.com", secret="s" * 40)
    for url in ("pay.example.com", "ftp://x", "https://", "https://a b"):
        with pytest.raises(ValueError, match="not an http"):
            SelfServiceSettings(base_url=url, secret="${X}")


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=120), st.sampled_from(["", ".", ".1."]))
def test_any_text_is_read_without_error_and_none_is_valid(text: str, joint: str) -> None:
    token = SIGNER.token("C-17", date(2026, 4, 9))
    for candidate in (text, text + joint + text, token[: len(text)] + text):
        if candidate == token:
            continue
        assert SIGNER.check(candidate, NOW).state is LinkState.ALTERED
        assert not SIGNER.csrf_ok(token, candidate)
