"""A compiled policy: the rules of ``policy.toml`` in the shape ``decide`` reads, and for each
channel the rules that bind it, worked out once per channel rather than per decision."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING

from dispatcher.model import ContactKind
from dispatcher.policy.calendars import ClosedDays
from dispatcher.policy.limits import Cooldown, DailyCap, Gap, Limit
from dispatcher.policy.windows import ALL_DAY, NO_CLOSED_DAYS, Window

if TYPE_CHECKING:
    from dispatcher.policy.jurisdictions import Places


@dataclass(frozen=True, slots=True)
class ChannelTraits:
    """What the policy must know of a channel: the address kind it needs and whether it is
    exempt from time windows (letters are posted, not received at an hour)."""

    name: str
    contact_kind: ContactKind
    window_exempt: bool = False


@dataclass(frozen=True, slots=True)
class ChannelRules:
    limits: tuple[Limit, ...]
    gap: Gap | None
    cooldown: Cooldown | None
    windows: tuple[Window, ...] | None
    daily_caps: tuple[DailyCap, ...] = ()
    holidays: tuple[ClosedDays, ...] = ()
    window_rule: str | None = None
    closed: dict[str, frozenset[date]] = field(default_factory=dict)
    limited_to_zero: bool = False  # a limit of max 0: the channel may not be used at all
    # How far back before an instant the rules over past attempts can see: older attempts
    # cannot bind this channel.
    horizon: timedelta = field(init=False, default=timedelta(0))

    def __post_init__(self) -> None:
        gap_and_cooldown = (r for r in (self.gap, self.cooldown) if r is not None)
        spans = [r.span for r in (*self.limits, *self.daily_caps, *gap_and_cooldown)]
        object.__setattr__(self, "horizon", max(spans, default=timedelta(0)))

    def closed_in(self, zone: str) -> frozenset[date]:
        """The holidays that close this channel for a person in ``zone``."""
        days = self.closed.get(zone)
        if days is None:
            days = frozenset().union(*(h.days for h in self.holidays if zone in h.zones))
            self.closed[zone] = days or NO_CLOSED_DAYS
        return days


@dataclass(frozen=True)
class Policy:
    """A compiled policy: the rules of ``policy.toml`` in the shape ``decide`` uses."""

    channels: Mapping[str, ChannelTraits]
    windows: Mapping[str, tuple[Window, ...]] = field(default_factory=dict)
    limits: tuple[Limit, ...] = ()
    gap: Gap | None = None
    cooldown: Cooldown | None = None
    jitter: timedelta = timedelta(minutes=20)
    hold_recheck: timedelta = timedelta(days=1)
    fallback_timezone: str = "UTC"
    after_cease: frozenset[tuple[str, str]] = frozenset()
    # (channel, template, state): a template whose allowed_states names a bankrupt or
    # deceased case's state, the only kind that may go on such a case.
    allowed_states: frozenset[tuple[str, str, str]] = frozenset()
    daily_caps: tuple[DailyCap, ...] = ()
    holidays: tuple[ClosedDays, ...] = ()
    preset: str = "none"
    overlays: tuple[str, ...] = ()
    version: str = ""  # a hash of the effective policy and the templates, set by the runtime
    consent_required: frozenset[str] = frozenset()  # channels that need consent on file
    places: Places | None = field(default=None, compare=False)  # per-person jurisdictions
    _rules: dict[str, ChannelRules] = field(default_factory=dict, compare=False, repr=False)
    # Whether a limit is narrowed to phone lines: then the rules binding a reminder depend on
    # the line of its number too (``rules_for``).
    by_line: bool = field(init=False, compare=False, repr=False, default=False)
    _line_rules: dict[tuple[str, str | None], ChannelRules] = field(
        default_factory=dict, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_line", any(r.lines is not None for r in self.limits))

    @property
    def lookback(self) -> timedelta:
        """How far back ``decide`` looks at attempts: the longest rule period."""
        spans = [limit.per for limit in self.limits]
        if self.daily_caps:
            spans.append(timedelta(days=2))  # a local day, whatever the zone's offset
        if self.gap:
            spans.append(self.gap.every)
        if self.cooldown:
            # Calendar mode reaches back to the start of the conversation's local day.
            extra = timedelta(days=1) if self.cooldown.calendar else timedelta(0)
            spans.append(self.cooldown.per + extra)
        if self.places is not None:
            spans.append(self.places.lookback)
        return max(spans, default=timedelta(0))

    def rules_for(self, channel: str, line: str | None = None) -> ChannelRules:
        """The rules that bind ``channel``, worked out once per channel rather than per
        decision; where a limit is narrowed to phone lines (``by_line``), to a number of
        ``line`` (``unknown``: of no known line; None: not a phone number)."""
        if self.by_line:
            key = (channel, line)
            rules = self._line_rules.get(key)
            if rules is None:
                every = self._channel_rules(channel)
                limits = tuple(limit for limit in every.limits if limit.binds(line))
                rules = replace(
                    every, limits=limits, limited_to_zero=any(lim.max == 0 for lim in limits)
                )
                self._line_rules[key] = rules
            return rules
        return self._channel_rules(channel)

    def _channel_rules(self, channel: str) -> ChannelRules:
        """The rules that bind ``channel``, whatever the line of the number."""
        rules = self._rules.get(channel)
        if rules is None:
            gap = self.gap if self.gap and self.gap.every and self.gap.applies_to(channel) else None
            cooldown = (
                self.cooldown if self.cooldown and self.cooldown.applies_to(channel) else None
            )
            windows = self.windows_for(channel)
            holidays = tuple(h for h in self.holidays if h.applies_to(channel))
            if windows is None and holidays:
                windows = ALL_DAY  # no hours to keep, but holidays are closed days
            origins = dict.fromkeys(w.rule for w in windows or () if w.rule)
            origins.update(dict.fromkeys(h.rule for h in holidays if h.rule))
            limits = tuple(limit for limit in self.limits if limit.applies_to(channel))
            rules = ChannelRules(
                limits=limits,
                gap=gap,
                cooldown=cooldown,
                windows=windows,
                daily_caps=tuple(cap for cap in self.daily_caps if cap.applies_to(channel)),
                holidays=holidays,
                window_rule="; ".join(origins) or None,
                limited_to_zero=any(limit.max == 0 for limit in limits),
            )
            self._rules[channel] = rules
        return rules

    def windows_for(self, channel: str) -> tuple[Window, ...] | None:
        """The channel's windows; None when no window rule names it (always open)."""
        traits = self.channels.get(channel)
        if traits is not None and traits.window_exempt:
            return None
        if channel in self.windows:
            return self.windows[channel]
        return self.windows.get("*")
