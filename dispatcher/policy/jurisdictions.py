"""Which jurisdictions of ``policy.toml`` a person is in, and the policy that binds them.

Pure, from the person's data, the shape of ``zones``: every postal address and every phone
number is a candidate place (``places``); a jurisdiction matches a place in its country (and
region, and postal codes, when it names them). Where candidates disagree, every matching
jurisdiction applies: the person is held to the strictest reading of them together
(``strictest``). The addresses say where the person lives, so they come first; a phone
number is a weaker candidate that adds a jurisdiction only when one matches it (a Texas
number adds nothing to a Boston address when no jurisdiction names Texas). A person with no
candidate at all gets ``default_jurisdiction``, and the decision is flagged
``jurisdiction_default``; candidates that match no jurisdiction leave the file's own policy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from dispatcher.config import PolicyFile
from dispatcher.model import ContactKind, Person
from dispatcher.policy.places import Place, places_of
from dispatcher.policy.presets import effective_policy
from dispatcher.policy.strictest import strictest

if TYPE_CHECKING:
    from dispatcher.policy.compiled import Policy

DEFAULT_FLAG = "jurisdiction_default"


@dataclass(frozen=True, slots=True)
class Reading:
    """The jurisdictions that apply to a person (in the order ``policy.toml`` lists them),
    for each the places that put the person there, and whether it is the configured default
    for a person with no place on file."""

    names: tuple[str, ...]
    why: tuple[tuple[str, tuple[str, ...]], ...] = ()
    default: bool = False

    def describe(self) -> str:
        """``massachusetts (address 1), us (address 1, phone …0123)`` for ``explain``."""
        if not self.names:
            return "none"
        if self.default:
            return f"{self.names[0]} (default: no address or number with a place)"
        return ", ".join(f"{name} ({', '.join(where)})" for name, where in self.why)


NO_READING = Reading(())


def matches(rule: Any, place: Place) -> bool:
    """Whether the jurisdiction ``rule`` (a ``JurisdictionRule``) contains ``place``."""
    if rule.country != place.country:
        return False
    if rule.region is not None and rule.region != place.region:
        return False
    if rule.postal_codes:
        code = place.postal_code
        return code is not None and any(code.startswith(prefix) for prefix in rule.postal_codes)
    return True


def reading_of(rules: tuple[Any, ...], default: str | None, places: tuple[Place, ...]) -> Reading:
    """The jurisdictions of ``rules`` that the candidate ``places`` match."""
    if not places:
        return Reading((default,), ((default, ()),), True) if default else NO_READING
    why: list[tuple[str, tuple[str, ...]]] = []
    for rule in rules:
        where = tuple(dict.fromkeys(p.where for p in places if matches(rule, p)))
        if where:
            why.append((rule.name, where))
    return Reading(tuple(name for name, _ in why), tuple(why))


def person_reading(policy: Policy, person: Person) -> tuple[Policy, Reading]:
    """The compiled policy that binds ``person`` and the jurisdictions it comes from: the
    policy itself when ``policy.toml`` defines none or none applies."""
    if policy.places is None:
        return policy, NO_READING
    reading = policy.places.reading(person)
    if not reading.names:
        return policy, reading
    return policy.places.policy(reading.names), reading


def person_places(person: Person) -> tuple[Place, ...]:
    phones = tuple(c.value for c in person.contacts if c.kind is ContactKind.PHONE)
    addresses = tuple(c.value for c in person.contacts if c.kind is ContactKind.POSTAL)
    return places_of(phones, addresses)


@dataclass(eq=False)
class Places:
    """The jurisdictions of a compiled policy: who is where, and the compiled policy of each
    combination of jurisdictions, built once when first needed (``build`` compiles the
    strictest reading of the named jurisdictions)."""

    rules: tuple[Any, ...]
    default: str | None
    build: Callable[[tuple[str, ...]], Policy]
    lookback: timedelta = timedelta(0)
    _policies: dict[tuple[str, ...], Policy] = field(default_factory=dict)
    _readings: dict[tuple[str, ...], Reading] = field(default_factory=dict)

    def reading(self, person: Person) -> Reading:
        """The jurisdictions ``person`` is in (worked out once per set of contacts)."""
        key = tuple(sorted(f"{c.kind}:{c.value}" for c in person.contacts))
        found = self._readings.get(key)
        if found is None:
            if len(self._readings) > 65536:
                self._readings.clear()
            found = reading_of(self.rules, self.default, person_places(person))
            self._readings[key] = found
        return found

    def policy(self, names: tuple[str, ...]) -> Policy:
        """The compiled policy of the people in exactly the jurisdictions ``names``."""
        policy = self._policies.get(names)
        if policy is None:
            policy = self._policies[names] = self.build(names)
        return policy


def jurisdiction_places(
    source: PolicyFile, channels: Iterable[str], compile_file: Callable[[PolicyFile], Policy]
) -> Places:
    """The jurisdictions of ``source``; ``compile_file`` compiles an effective policy. Each
    jurisdiction alone is compiled at once (so ``lookback`` covers its rules), combinations
    when a person first needs one."""
    by_name = {rule.name: rule for rule in source.jurisdictions}
    names = tuple(channels)

    def build(jurisdictions: tuple[str, ...]) -> Policy:
        files = [effective_policy(source, by_name[name]) for name in jurisdictions]
        return compile_file(strictest(files, names))

    places = Places(source.jurisdictions, source.default_jurisdiction, build)
    places.lookback = max(places.policy((name,)).lookback for name in by_name)
    return places
