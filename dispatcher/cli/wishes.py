"""``dispatcher wishes set|show|clear PERSON``: what the person asked for — channels they
refused, hours not to be contacted in (as the import's ``contact_hours`` writes them), the
language to write in — as the API records them. ``set`` replaces the person's wishes as a
whole; a value it cannot read or an unknown person exits 2 naming it."""

from __future__ import annotations

import click

from dispatcher.cli.console import fail, out, print_json
from dispatcher.cli.instants import utc_now
from dispatcher.cli.loading import store_or_exit
from dispatcher.intake.wishes import language, parse_hours, refused_channels
from dispatcher.model import Wishes
from dispatcher.store import Store


def _put(store: Store, person_id: str, wishes: Wishes) -> None:
    try:
        changed = store.set_wishes(person_id, wishes, now=utc_now(), source="cli")
        person = store.get_person(person_id)
    except LookupError:
        fail(f"no person {person_id!r}")
    finally:
        store.close()
    assert person is not None
    note = "" if changed else " (unchanged)"
    wishes = person.wishes
    out.print(
        f"person {person_id}: wishes {wishes.describe()}{wishes.origin()}{note}", markup=False
    )


@click.group()
def wishes() -> None:
    """The person's own wishes: refused channels, contact hours, a language."""


@wishes.command("set")
@click.argument("person_id")
@click.option("--refuse", "refused", multiple=True, help="A channel the person refused (repeat).")
@click.option(
    "--hours",
    "hours",
    multiple=True,
    help='When not to contact them, e.g. "voice mon-fri not between 09:00-17:00" or '
    '"not before 10:00" (repeat).',
)
@click.option("--language", "wished", help="The language to write in (a locale: en, zh-CN).")
@click.pass_context
def set_(
    ctx: click.Context,
    person_id: str,
    refused: tuple[str, ...],
    hours: tuple[str, ...],
    wished: str | None,
) -> None:
    """Replace the person's wishes with these (what is not given is no longer wished)."""
    config, store = store_or_exit(ctx.obj["config"])
    channels = list(config.channels)
    try:
        wishes = Wishes(
            refused=refused_channels(refused, channels),
            hours=tuple(dict.fromkeys(parse_hours(text, channels) for text in hours)),
            language=language(wished) if wished else None,
        )
    except ValueError as exc:
        store.close()
        fail(str(exc))
    if not wishes:
        store.close()
        fail("give --refuse, --hours or --language (or `dispatcher wishes clear`)")
    _put(store, person_id, wishes)


@wishes.command("clear")
@click.argument("person_id")
@click.pass_context
def clear(ctx: click.Context, person_id: str) -> None:
    """The person wishes nothing any more: only the rules apply."""
    _, store = store_or_exit(ctx.obj["config"])
    _put(store, person_id, Wishes())


@wishes.command("show")
@click.argument("person_id")
@click.option("--json", "as_json", is_flag=True, help="The wishes as GET /v1/people/{id}/wishes.")
@click.pass_context
def show(ctx: click.Context, person_id: str, as_json: bool) -> None:
    """The person's wishes in force, when and by whom they were set."""
    _, store = store_or_exit(ctx.obj["config"])
    try:
        person = store.get_person(person_id)
    finally:
        store.close()
    if person is None:
        fail(f"no person {person_id!r}")
    wishes = person.wishes
    if as_json:
        from dispatcher.api.wishes import wishes_view

        print_json(wishes_view(person_id, wishes).model_dump(mode="json"))
        return
    out.print(f"person {person_id}: wishes {wishes.describe()}{wishes.origin()}", markup=False)
