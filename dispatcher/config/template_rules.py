"""Rules on templates that ``check`` enforces, beyond "it exists and renders".

- Reg F §1006.2(j): a voicemail (a template of a channel in ``voicemail_channels``, or the
  template a call template names in its ``voicemail`` meta key) is a limited-content
  message: business name, a request to reply, whom to contact and a callback number, with at
  most a salutation. Only the variables in ``limited_content_vars`` may appear,
  and no wording about a debt. A call channel that speaks only to a person
  (``Channel.requires_voicemail``) needs that voicemail in every template, for the machines.
- Letters (templates of a postal channel) carry ``approved_by``: CBA 2026 guideline, no
  impersonation of courts or government; letters and lawyer's letters use approved templates.
- ``allowed_after_cease`` (Reg F §1006.6(c)) must be a true/false value and the same in every
  locale, since it decides what may still go on a ceased case.
- ``allowed_states`` (a list of ``bankrupt``, ``deceased``) must be the same in every locale,
  since it decides what may still go on a bankrupt or deceased case.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from typing import Any

from jinja2 import TemplateError, nodes

from dispatcher.config.directory import Config
from dispatcher.config.problems import Problem
from dispatcher.config.templates import template_key
from dispatcher.content import DEBT_WORDS
from dispatcher.model import ContactKind

# The case states in which only a template that names them may go.
ALLOWED_STATES = ("bankrupt", "deceased")


def _steps(config: Config) -> Iterator[tuple[str, str]]:
    """Each (channel, template) a schedule names, on a configured channel (an unknown one is
    reported by the step check)."""
    seen: set[tuple[str, str]] = set()
    for schedule in config.schedules.schedules.values():
        for step in schedule.steps:
            key = (step.channel, step.template)
            if key not in seen and step.channel in config.dispatcher.channels:
                seen.add(key)
                yield key


def _used_names(ast: nodes.Template) -> set[str]:
    """Every variable a template reads, dotted to one attribute (``person.name``)."""
    used: set[str] = set()
    inner: set[int] = set()
    for attr in ast.find_all(nodes.Getattr):
        if isinstance(attr.node, nodes.Name):
            used.add(f"{attr.node.name}.{attr.attr}")
            inner.add(id(attr.node))
    for name in ast.find_all(nodes.Name):
        if name.ctx == "load" and id(name) not in inner:
            used.add(name.name)
    return used


def check_template_rules(
    config: Config, kinds: Mapping[str, ContactKind], needs_voicemail: Collection[str] = ()
) -> list[Problem]:
    """Every template rule broken by a template a schedule names, in every locale.
    ``needs_voicemail``: the channels whose templates must name a voicemail."""
    templates = config.templates
    policy = config.policy
    allowed_vars = set(policy.limited_content_vars)
    problems: list[Problem] = []
    for channel, name in _steps(config):
        cease_flags: dict[str, Any] = {}
        state_lists: dict[str, Any] = {}
        for locale in config.dispatcher.locales:
            try:
                path = templates.resolve(channel, name, locale)
                meta = templates.meta(channel, name, locale)
            except (LookupError, TemplateError):
                continue  # reported by the existence and rendering checks
            shown = f"templates/{path}"
            key = template_key(path)
            state_lists[path] = meta.get("allowed_states", [])
            problems.extend(_allowed_states(state_lists[path], shown, key))
            cease_flags[path] = meta.get("allowed_after_cease", False)
            if not isinstance(cease_flags[path], bool):
                problems.append(
                    Problem(shown, 1, f"{key}.allowed_after_cease", "must be true or false")
                )
            if (
                kinds.get(channel) is ContactKind.POSTAL
                and not str(meta.get("approved_by", "")).strip()
            ):
                problems.append(
                    Problem(
                        shown,
                        1,
                        f"{key}.approved_by",
                        "a letter template needs approved_by in its meta block "
                        "(who approved it, and when)",
                    )
                )
            if channel in policy.voicemail_channels:
                problems.extend(_limited_content(templates, path, shown, key, allowed_vars))
            voicemail = meta.get("voicemail")
            if voicemail is None and channel in needs_voicemail:
                problems.append(
                    Problem(
                        shown,
                        1,
                        f"{key}.voicemail",
                        f"a call on channel {channel} needs a limited-content voicemail for "
                        "the machines that answer: name one in the meta block (voicemail = "
                        '"voicemail"); without it the call could not be placed',
                    )
                )
            if voicemail is not None:
                problems.extend(
                    _voicemail_of(templates, channel, voicemail, locale, shown, key, allowed_vars)
                )
        if len(set(map(bool, cease_flags.values()))) > 1:
            where = ", ".join(f"templates/{p}" for p in sorted(cease_flags))
            problems.append(
                Problem(
                    f"templates/{sorted(cease_flags)[0]}",
                    1,
                    f"{channel}/{name}.allowed_after_cease",
                    f"differs between locales ({where}); it must be the same in all",
                )
            )
        if len({_as_set(states) for states in state_lists.values()}) > 1:
            where = ", ".join(f"templates/{p}" for p in sorted(state_lists))
            problems.append(
                Problem(
                    f"templates/{sorted(state_lists)[0]}",
                    1,
                    f"{channel}/{name}.allowed_states",
                    f"differs between locales ({where}); it must be the same in all",
                )
            )
    return problems


def _as_set(states: Any) -> frozenset[str] | None:
    return frozenset(map(str, states)) if isinstance(states, list) else None


def _allowed_states(value: Any, shown: str, key: str) -> Iterator[Problem]:
    """``allowed_states``: a list of the states in which only named templates may go."""
    known = ", ".join(ALLOWED_STATES)
    if not isinstance(value, list):
        yield Problem(shown, 1, f"{key}.allowed_states", f"must be a list of states ({known})")
        return
    for state in value:
        if state not in ALLOWED_STATES:
            yield Problem(
                shown,
                1,
                f"{key}.allowed_states",
                f"{state!r} is not a state a template may be allowed in (known: {known})",
            )


def _voicemail_of(
    templates: Any,
    channel: str,
    name: Any,
    locale: str,
    shown: str,
    key: str,
    allowed: set[str],
) -> Iterator[Problem]:
    """The voicemail a call template names (its ``voicemail`` meta key) is a limited-content
    message whatever the channel's place in ``voicemail_channels``."""
    if not isinstance(name, str) or not name.strip():
        yield Problem(shown, 1, f"{key}.voicemail", "must be the name of a template")
        return
    try:
        path = templates.resolve(channel, name, locale)
        own = templates.meta(channel, name, locale).get("voicemail")
    except LookupError as exc:
        yield Problem(shown, 1, f"{key}.voicemail", str(exc))
        return
    except TemplateError:
        return  # reported by the rendering check
    if own is not None:
        yield Problem(
            f"templates/{path}",
            1,
            f"{path.removesuffix('.j2')}.voicemail",
            f"a voicemail ({name!r}, named by {shown}) cannot name a voicemail of its own",
        )
    yield from _limited_content(
        templates, path, f"templates/{path}", path.removesuffix(".j2"), allowed
    )


def _limited_content(
    templates: Any, path: str, shown: str, key: str, allowed: set[str]
) -> Iterator[Problem]:
    try:
        source = templates.env.loader.get_source(templates.env, path)[0]
        ast = templates.env.parse(source)
    except TemplateError:
        return  # reported by the rendering check
    for used in sorted(_used_names(ast) - allowed):
        if used in allowed or used.split(".", 1)[0] in allowed:
            continue
        yield Problem(
            shown,
            1,
            key,
            f"a voicemail is a limited-content message (Reg F §1006.2(j)): {used} is not "
            f"allowed (allowed: {', '.join(sorted(allowed))})",
        )
    for number, line in enumerate(source.splitlines(), start=1):
        match = DEBT_WORDS.search(line)
        if match:
            yield Problem(
                shown,
                number,
                key,
                f"a voicemail is a limited-content message (Reg F §1006.2(j)): "
                f"{match.group(0)!r} says what the call is about",
            )
