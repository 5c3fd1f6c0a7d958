"""The console's pages: the overview (and its JSON, polled by the page to refresh itself),
resolving unknown attempts, a case, the policy, and a simulation of chosen cases."""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web

from dispatcher import charts
from dispatcher.admin.explain import timeline
from dispatcher.admin.unknowns import Selection, resolve_selection
from dispatcher.api.access import CoreAccess
from dispatcher.api.views import person_view
from dispatcher.intake import is_id
from dispatcher.model import Person, ReminderState
from dispatcher.policy.week import week_shares
from dispatcher.privacy import mask_contact
from dispatcher.store.api import UnknownCase
from dispatcher.store.unknown_api import Resolution
from dispatcher.ui import languages, simulate_view
from dispatcher.ui.forms import caller, language, read_form, session
from dispatcher.ui.overview import KINDS, Overview, gather
from dispatcher.ui.policy_view import rule_rows, settings
from dispatcher.ui.render import SECURITY_HEADERS, page, page_context, render

log = logging.getLogger("dispatcher.ui")

REFRESH_SECONDS = 5
UPCOMING = (ReminderState.PENDING, ReminderState.CLAIMED)


def _overview_context(request: web.Request, overview: Overview) -> dict[str, Any]:
    t = languages.translator(language(request))
    return {
        "o": overview,
        "counts": overview.counts(),
        "charts": {
            kind: charts.hourly_bars(
                overview.hourly(kind), overview.last_hour, overview.channels, t(kind)
            )
            for kind in KINDS
        },
        "legend": charts.legend(overview.channels),
        "kinds": KINDS,
        "csrf": session(request).csrf,
        "may_write": caller(request).may("write"),
        "resolutions": [r.value for r in Resolution],
    }


def _who(request: web.Request) -> dict[str, Any]:
    found = caller(request)
    return {
        "who": found.name,
        "pii": found.sees_personal_data,
        "csrf": session(request).csrf,
    }


def _choices(person: Person, *, personal_data: bool) -> dict[str, Any]:
    """What the person chose, as the case page shows it: their consents (the contact point
    masked as every contact point on the page), and their wishes in force (channels, hours,
    a language: nothing personal to mask)."""
    wishes = person.wishes
    return {
        "consents": [
            (
                c.channel,
                c.contact if personal_data or c.contact is None else mask_contact(c.contact),
            )
            for c in person.consents
        ],
        "wishes": {
            "any": bool(wishes),
            "refused": list(wishes.refused),
            "hours": [wish.describe() for wish in wishes.hours],
            "language": wishes.language,
            "origin": wishes.origin().strip(" ()"),
        },
    }


def routes(core: CoreAccess) -> list[web.RouteDef]:
    # One simulation at a time in the daemon: each is a planner and dispatch loop of its
    # own, and operators must not be able to start many at once.
    simulating = asyncio.Lock()

    async def overview_page(request: web.Request) -> web.Response:
        overview = await gather(core, personal_data=caller(request).sees_personal_data)
        context = {
            **_who(request),
            **_overview_context(request, overview),
            "refresh": REFRESH_SECONDS,
            "resolved": request.query.get("resolved"),
        }
        return page(request, "overview.html", context)

    async def overview_json(request: web.Request) -> web.Response:
        overview = await gather(core, personal_data=caller(request).sees_personal_data)
        context = {
            **page_context(request, language(request)),
            **_overview_context(request, overview),
        }
        return web.json_response(
            {"counts": overview.counts(), "fragment": render("overview_body.html", context)},
            headers=SECURITY_HEADERS,
        )

    async def resolve(request: web.Request) -> web.StreamResponse:
        who = caller(request)
        if not who.may("write"):
            return page(request, "message.html", {"message": "needs_write"}, status=403)
        form = await read_form(request)
        resolution = str(form.get("resolution", ""))
        reason = str(form.get("reason", "")).strip()
        channel = str(form.get("channel", ""))
        attempt = str(form.get("attempt_id", ""))
        problems = []
        if resolution not in {r.value for r in Resolution}:
            problems.append(f"resolution: {resolution!r} is not one of sent, not_sent, resend")
        if not reason:
            problems.append("reason: must say why (it is recorded for audit)")
        if channel and channel not in core.runtime.config.dispatcher.channels:
            problems.append(f"channel: unknown channel {channel!r}")
        if bool(channel) == bool(attempt):
            problems.append("name one attempt_id or one channel")
        if problems:
            return page(request, "message.html", {"message": "; ".join(problems)}, status=422)
        selection = Selection(ids=(attempt,)) if attempt else Selection(channel=channel)
        resolved = await resolve_selection(
            partial(core.call, core.store.resolve_unknown),
            selection,
            resolution=Resolution(resolution),
            reason=reason,
            source=f"console:{who.name}",
            now=core.clock(),
        )
        if resolution != Resolution.SENT.value and resolved:
            core.changed(case_id=None, person_id=None)  # pending again: claim now
        log.info(
            "console resolved unknown attempts",
            extra={
                "fields": {"resolution": resolution, "resolved": len(resolved), "token": who.name}
            },
        )
        raise web.HTTPSeeOther(f"/ui/?resolved={len(resolved)}")

    async def case_page(request: web.Request) -> web.Response:
        wanted = request.query.get("id", "").strip()
        context: dict[str, Any] = {**_who(request), "wanted": wanted, "history": None}
        if not wanted:
            return page(request, "case.html", context)
        case_id: str | None = wanted if is_id(wanted) else None
        if case_id and await core.read(core.store.get_case, case_id) is None:
            case_id = None
            if wanted.isdigit():
                case_id = await core.read(core.store.case_of_reminder, int(wanted))
        try:
            history = await core.read(core.store.case_history, case_id) if case_id else None
        except UnknownCase:
            history = None
        if history is None:
            return page(request, "case.html", {**context, "missing": True}, status=404)
        context.update(
            history=history,
            person=person_view(history.person, personal_data=caller(request).sees_personal_data),
            **_choices(history.person, personal_data=caller(request).sees_personal_data),
            upcoming=[r for r in history.reminders if r.state in UPCOMING],
            timeline=timeline(history),
            reasons=history.reminder_reasons,
        )
        return page(request, "case.html", context)

    async def policy_page(request: web.Request) -> web.Response:
        runtime = core.runtime
        zone = request.query.get("zone", "").strip() or runtime.config.dispatcher.fallback_timezone
        status = 200
        try:
            ZoneInfo(zone)
            bad_zone = None
        except (ZoneInfoNotFoundError, ValueError, OSError):
            bad_zone, zone, status = zone, runtime.config.dispatcher.fallback_timezone, 400
        t = languages.translator(language(request))
        days = t("days").split()
        today = core.clock().astimezone(ZoneInfo(zone)).date()
        grids = []
        for channel in runtime.config.dispatcher.channels:
            shares = week_shares(runtime.policy, channel, zone, today)
            drawn = charts.week_grid(shares, days, f"{channel} {zone}") if shares else None
            exempt = channel in runtime.config.policy.window_exempt
            grids.append({"channel": channel, "grid": drawn, "exempt": exempt})
        context = {
            **_who(request),
            "zone": zone,
            "bad_zone": bad_zone,
            "week_of": today,
            "rules": rule_rows(runtime.config.policy),
            "settings": settings(runtime.config.policy),
            "grids": grids,
            "version": runtime.version,
        }
        return page(request, "policy.html", context, status=status)

    async def simulate_page(request: web.Request) -> web.Response:
        ids_text = request.query.get("cases", "")
        days_text = request.query.get("days", "")
        context: dict[str, Any] = {
            **_who(request),
            "ids_text": ids_text,
            "days_text": days_text or str(simulate_view.DEFAULT_DAYS),
            "max_cases": simulate_view.MAX_CASES,
            "max_days": simulate_view.MAX_DAYS,
            "problem": None,
            "missing": [],
            "breathing_space": [],
            "report": None,
            "busy": False,
        }
        try:
            query = simulate_view.read_query(ids_text, days_text)
        except simulate_view.BadQuery as exc:
            return page(request, "simulate.html", {**context, "problem": str(exc)}, status=400)
        if not query.ids:
            return page(request, "simulate.html", context)
        now = core.clock()
        chosen = await simulate_view.stored_cases(core, query.ids, now)
        context.update(missing=chosen.missing, breathing_space=chosen.breathing_space)
        if not chosen.cases:
            return page(request, "simulate.html", context)
        if simulating.locked():
            context["busy"] = True
            return page(request, "simulate.html", context, status=429)
        async with simulating:
            result = await simulate_view.run(core, chosen.cases, now, query.days)
        what = {"cases": len(chosen.cases), "days": query.days, "token": caller(request).name}
        log.info("console simulated", extra={"fields": what})
        context["report"] = simulate_view.report(core, result)
        return page(request, "simulate.html", context)

    return [
        web.get("/", overview_page),
        web.get("/overview.json", overview_json),
        web.post("/unknown/resolve", resolve),
        web.get("/case", case_page),
        web.get("/policy", policy_page),
        web.get("/simulate", simulate_page),
    ]
