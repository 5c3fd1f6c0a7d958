"""Built-in presets and overlays, and how they merge under ``policy.toml``.

A preset is data shaped like ``policy.toml``. The effective policy is the preset, then each
overlay in the order listed, then the admin's own file: a scalar set in a later layer wins;
a list entry with the ``name`` of an earlier one changes the fields it sets (``enabled =
false`` drops it); any other entry is added. Every rule keeps an ``origin`` saying which layer
wrote it, so a decision can name the rule that produced it.

The numbers and sources are in ``docs/policy.md``. Not legal advice.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from dispatcher.config import PolicyFile
from dispatcher.config.jurisdictions import JurisdictionRule
from dispatcher.policy.overlays import OVERLAYS, UK_FCA

PRESETS: dict[str, dict[str, Any]] = {
    "none": {},
    "us-reg-f": {
        # Letters are posted, not received at an hour.
        "window_exempt": ["letter"],
        "windows": [
            # Reg F §1006.6(b)(1)(i): before 08:00 or from 21:00 local time is inconvenient;
            # email and SMS are judged at the time sent.
            {"name": "inconvenient-time", "channels": ["*"], "from": "08:00", "to": "21:00"},
        ],
        "limits": [
            # Reg F §1006.14(b)(2)(i): at most 7 call attempts in any rolling 7 days per debt,
            # across all of the person's numbers.
            {
                "name": "call-frequency",
                "channels": ["voice"],
                "max": 7,
                "per": "7d",
                "scope": "case",
            },
        ],
        # Reg F §1006.14(b)(2)(ii): no call within 7 days after a telephone conversation about
        # the debt; the day of the conversation is day 1.
        "cooldown": {"channels": ["voice"], "per": "7d", "scope": "case", "calendar": True},
    },
    "cn": {
        "window_exempt": ["letter"],
        "windows": [
            # NIFA 2024 guideline, GB/T 45251-2025, CBA 2026 guideline: no collection contact
            # from 22:00 to 08:00 local time.
            {"name": "no-night-contact", "channels": ["*"], "from": "08:00", "to": "22:00"},
        ],
        "daily_caps": [
            # NIFA 2024, GB/T 45251-2025: at most 3 connected voice conversations per debtor
            # per calendar day (AI voice included).
            {
                "name": "conversations-per-day",
                "channels": ["voice"],
                "max": 3,
                "scope": "person",
                "count": "conversations",
            },
            # CBA 2026: at most 6 unanswered call attempts per day to one number.
            {
                "name": "unanswered-per-number",
                "channels": ["voice"],
                "max": 6,
                "scope": "contact",
                "count": "unanswered",
            },
        ],
    },
    "uk-fca": UK_FCA,
}

LISTS = ("windows", "limits", "daily_caps", "holidays")
TABLES = ("min_gap", "cooldown")


def effective_policy(
    source: PolicyFile, jurisdiction: JurisdictionRule | None = None
) -> PolicyFile:
    """``source`` over its preset and overlays: the rules the engine enforces. With a
    ``jurisdiction``, the rules of its people: its preset (else the file's), the file's
    overlays and then its own, ``policy.toml``, and last its own rules."""
    preset = source.preset
    if jurisdiction is not None and jurisdiction.preset is not None:
        preset = jurisdiction.preset
    layers: list[tuple[str, PolicyFile]] = []
    if preset != "none":
        layers.append((f"preset {preset}", PolicyFile.model_validate(PRESETS[preset])))
    for overlay in source.overlays:
        layers.append((f"overlay {overlay}", PolicyFile.model_validate(OVERLAYS[overlay])))
    if jurisdiction is not None:
        for overlay in jurisdiction.overlays:
            label = f"jurisdiction {jurisdiction.name}: overlay {overlay}"
            layers.append((label, PolicyFile.model_validate(OVERLAYS[overlay])))
    layers.append(("policy.toml", source))
    if jurisdiction is not None:
        layers.append((f"jurisdiction {jurisdiction.name}", jurisdiction_layer(jurisdiction)))
    merged = PolicyFile.model_validate({"preset": preset, "overlays": source.overlays})
    for label, layer in layers:
        merged = _merge(merged, layer, label)
    return merged


def jurisdiction_layer(jurisdiction: JurisdictionRule) -> PolicyFile:
    """A jurisdiction's own rules as a layer (only the keys it sets)."""
    keys = ("windows", "limits", "daily_caps", "consent_required")
    return PolicyFile(**{k: getattr(jurisdiction, k) for k in keys if getattr(jurisdiction, k)})


def _label(label: str, key: str, index: int, rule: Any) -> str:
    where = f"{key}.{rule.name}" if rule.name else f"{key}[{index}]"
    return f"{label}: {where}"


def _merge(base: PolicyFile, layer: PolicyFile, label: str) -> PolicyFile:
    update: dict[str, Any] = {}
    for key in layer.model_fields_set - {"preset", "overlays", *LISTS, *TABLES}:
        update[key] = getattr(layer, key)
    for key in LISTS:
        rules = list(getattr(base, key))
        for index, rule in enumerate(getattr(layer, key)):
            origin = _label(label, key, index, rule)
            same = next((i for i, r in enumerate(rules) if rule.name and r.name == rule.name), None)
            if same is None:
                rules.append(rule.model_copy(update={"origin": origin}))
                continue
            changed = {f: getattr(rule, f) for f in rule.model_fields_set if f != "name"}
            changed["origin"] = f"{origin} over {rules[same].origin}"
            rules[same] = rules[same].model_copy(update=changed)
        update[key] = tuple(r for r in rules if r.enabled)
    for key in TABLES:
        table: BaseModel | None = getattr(layer, key)
        if key not in layer.model_fields_set or table is None:
            continue
        current = getattr(base, key)
        changed = {f: getattr(table, f) for f in table.model_fields_set}
        if current is None:
            update[key] = table.model_copy(update={"origin": f"{label}: {key}"})
            continue
        origin = f"{label}: {key}" + (f" over {current.origin}" if current.origin else "")
        update[key] = current.model_copy(update={**changed, "origin": origin})
    return base.model_copy(update=update)
