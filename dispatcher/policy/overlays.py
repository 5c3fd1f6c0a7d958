"""The built-in overlays (and the ``uk-fca`` preset, which is also usable as an overlay), as
data: each rule with the source it encodes and, where the source is a summary rather than the
legal text, the caveat that says so. ``docs/policy.md`` lists the same. Not legal advice.

A rule is written as ``policy.toml`` writes it, plus ``source`` and ``caveat``; a key that is
not a list of rules (``consent_required``, ``window_exempt``) is ``{"value": …, "source": …}``.
``OVERLAYS`` is the data as the merge reads it, ``SOURCES`` where each rule came from.
"""

from __future__ import annotations

from typing import Any

SOURCE_KEYS = ("source", "caveat")
SUMMARY = "from published summaries, not the rule's text"
_MA = "209 CMR 18.16(1)(d); 940 CMR 7.04(1)(f) for creditors"
_MA_CITED = "as cited in the project's policy design"
# 209 CMR 18.16(1)(d): calls and texts together, per debt; unanswered calls count.
_MA_CALLS_TEXTS = {"channels": ["voice", "sms"], "max": 2, "scope": "case"}

SOURCED: dict[str, dict[str, Any]] = {
    "us-ma": {
        "limits": [
            # A number of no known line may be a residence or mobile number, or any other:
            # both rules bind it and count the attempts made to it (the strictest reading, as
            # for a person's unknown time zone). The 30-day rule comes first so that, where
            # both bind, the reason names the one that sets the later instant.
            {
                **_MA_CALLS_TEXTS,
                "name": "ma-calls-texts-other-numbers",
                "per": "30d",
                "lines": ["work", "other", "unknown"],
                "source": f"{_MA}: 2 per 30 days to a number other than the debtor's residence "
                "or mobile",
                "caveat": f"{_MA_CITED}; a number of no known line counts here as well as under "
                "ma-calls-texts",
            },
            {
                **_MA_CALLS_TEXTS,
                "name": "ma-calls-texts",
                "per": "7d",
                "lines": ["residence", "mobile", "unknown"],
                "source": f"{_MA}: 2 per 7 days to the debtor's residence or mobile",
                "caveat": f"{_MA_CITED}; a number of no known line counts here as well as under "
                "ma-calls-texts-other-numbers",
            },
            {
                "name": "ma-visits",
                "channels": ["field_visit"],
                "max": 1,
                "per": "30d",
                "scope": "case",
                "source": _MA,
                "caveat": f"{_MA_CITED}; binds the channel named field_visit (rename it under "
                "a jurisdiction's limits of the same name)",
            },
        ],
    },
    "us-nyc": {
        "limits": [
            {
                "name": "nyc-attempts",
                "channels": ["*"],
                "max": 3,
                "per": "7d",
                "scope": "case",
                "source": "6 RCNY 5-77 as amended (DCWP): 3 attempts per 7 days per account "
                "across all media; final rule published in The City Record on 12 August 2024, "
                "its effective date postponed by the City several times (1 September 2026 as "
                "last announced)",
                "caveat": SUMMARY,
            },
        ],
        "consent_required": {
            "value": ["email", "sms"],
            "source": "6 RCNY 5-77 as amended (DCWP): the consumer's consent before contact by "
            "email or text message; a revocation is per medium",
            "caveat": SUMMARY,
        },
    },
    "uk-fca": {
        "window_exempt": {
            "value": ["letter"],
            "source": "letters are posted, not received at an hour",
        },
        "windows": [
            {
                "name": "reasonable-times-weekdays",
                "channels": ["*"],
                "days": "mon-fri",
                "from": "08:00",
                "to": "21:00",
                "source": "FCA CONC 7.9.4R: no contact at unreasonable times",
                "caveat": "the rule sets no hours; these are a common practice, kept as data",
            },
            {
                "name": "reasonable-times-weekends",
                "channels": ["*"],
                "days": "sat-sun",
                "from": "09:00",
                "to": "17:00",
                "source": "FCA CONC 7.9.4R: no contact at unreasonable times",
                "caveat": "the rule sets no hours; shorter weekend hours are a common practice",
            },
        ],
    },
}


def _plain(sourced: dict[str, Any]) -> dict[str, Any]:
    plain: dict[str, Any] = {}
    for key, value in sourced.items():
        if isinstance(value, dict):
            plain[key] = value["value"]
        else:
            plain[key] = [
                {k: v for k, v in r.items() if k not in ("source", "caveat")} for r in value
            ]
    return plain


def _sources(sourced: dict[str, Any]) -> dict[str, tuple[str, str]]:
    found: dict[str, tuple[str, str]] = {}
    for key, value in sourced.items():
        for rule in [value] if isinstance(value, dict) else value:
            where = f"{key}.{rule['name']}" if "name" in rule else key
            found[where] = (rule["source"], rule.get("caveat", ""))
    return found


OVERLAYS: dict[str, dict[str, Any]] = {name: _plain(rules) for name, rules in SOURCED.items()}
SOURCES: dict[str, dict[str, tuple[str, str]]] = {
    name: _sources(rules) for name, rules in SOURCED.items()
}
UK_FCA = OVERLAYS["uk-fca"]
