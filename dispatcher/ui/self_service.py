"""The person's own page at ``/s/<token>`` (the link templates get as ``self_service_url``):
the company, the case reference, the balance and the due date — nothing more personal — and
forms to promise, propose a plan, report hardship, dispute the debt, stop a channel
(``self_service_actions``) and set contact preferences (``self_service_wishes``). Public: the
signed link is the only key.

A link not signed by the key in force, or whose case no longer exists, is a 403 with the
same page either way (the answer says nothing of which cases exist); a signed one past its
last day a 410. Each form carries the link's CSRF value; each link may make ``max_requests``
requests per ``per`` (then 429). The page is off (404) without a usable ``[self_service]``.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from dispatcher.api.access import CoreAccess
from dispatcher.config.templates import money
from dispatcher.links import PATH, LinkState
from dispatcher.model import ArrangementState, Case, Wishes
from dispatcher.policy.arrangements import refusal
from dispatcher.ui import languages
from dispatcher.ui.forms import LANG, MAX_FORM, read_form
from dispatcher.ui.render import SECURITY_HEADERS, package_dir, render
from dispatcher.ui.self_service_actions import (
    ACTIONS,
    DONE,
    MAY_REPORT,
    FormProblem,
    Refused,
    arrange,
    opt_out,
    record_event,
)
from dispatcher.ui.self_service_texts import TEXTS
from dispatcher.ui.self_service_wishes import (
    preferences_given_back,
    preferences_shown,
    set_preferences,
)

log = logging.getLogger("dispatcher.self_service")

MAX_LINKS = 10_000  # links whose requests are counted at once; the oldest forgotten past it
HEADERS = {**SECURITY_HEADERS, "X-Robots-Tag": "noindex, nofollow"}
# A form field at fault, named in the error summary by its label's text.
FIELD_LABELS = {
    "date": "promise_date",
    "amount": "amount",
    "count": "plan_count",
    "first": "plan_first",
    "every": "plan_every",
    "channels": "opt_out_heading",
    "not_before": "prefs_not_before",
    "not_after": "prefs_not_after",
    "language": "prefs_language",
}


class RateLimit:
    """At most ``limit`` requests per ``window`` seconds for each key (a link)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()

    def allow(self, key: str, limit: int, window: float) -> bool:
        now = self._clock()
        times = self._seen.pop(key, None) or deque()
        while times and times[0] <= now - window:
            times.popleft()
        allowed = len(times) < limit
        if allowed:
            times.append(now)
        self._seen[key] = times
        while len(self._seen) > MAX_LINKS:
            self._seen.popitem(last=False)
        return allowed


def _chosen(request: web.Request, form: dict[str, Any] | None) -> str | None:
    """The language asked for (the switch link, a form's field), if any."""
    chosen = str((form or {}).get("lang") or request.query.get("lang", ""))
    return chosen if chosen in languages.LANGUAGES else None


def _language(chosen: str | None, locale: str | None, accept: str) -> str:
    """The page's language: the one asked for, else the person's (their messages'), else
    the browser's."""
    if chosen:
        return chosen
    if locale:
        return "zh-CN" if locale.lower().startswith("zh") else "en"
    return languages.choose(None, accept)


def _answer(request: web.Request, name: str, context: dict[str, Any], status: int) -> web.Response:
    language = request.get(LANG, "en")
    body = render(
        name,
        {
            "lang": language,
            "t": languages.translator(language, TEXTS),
            "other_lang": languages.other(language),
            **context,
        },
    )
    return web.Response(text=body, status=status, content_type="text/html", headers=HEADERS)


def _message(request: web.Request, key: str, status: int) -> web.Response:
    return _answer(request, "self_service_message.html", {"message": key}, status)


class SelfServicePage:
    def __init__(self, core: CoreAccess, limits: RateLimit | None = None) -> None:
        self.core = core
        self.limits = limits or RateLimit()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except Exception as exc:  # logged by type only: no token, no data
            log.error(
                "self-service request failed", extra={"fields": {"error": type(exc).__name__}}
            )
            return _message(request, "error", 500)

    async def _open(self, request: web.Request, form: dict[str, Any] | None) -> Case | web.Response:
        """The case a request's link opens, or the answer refusing it."""
        chosen = _chosen(request, form)
        accept = request.headers.get("Accept-Language", "")
        request[LANG] = _language(chosen, None, accept)
        runtime = self.core.runtime
        signer = runtime.self_service[0]
        settings = runtime.config.dispatcher.self_service
        if signer is None or settings is None:
            return _message(request, "link_invalid", 404)
        token = request.match_info["token"]
        if not self.limits.allow(token, settings.max_requests, settings.per.total_seconds()):
            return _message(request, "too_many", 429)
        check = signer.check(token, self.core.clock())
        if check.state is LinkState.EXPIRED:
            return _message(request, "link_expired", 410)
        case = None
        if check.state is LinkState.VALID:
            case = await self.core.read(self.core.store.get_case, check.case_id)
        if case is None:
            log.info("self-service link refused", extra={"fields": {"reason": "not valid"}})
            return _message(request, "link_invalid", 403)
        person = await self.core.read(self.core.store.get_person, case.person_id)
        request[LANG] = _language(chosen, person.template_locale if person else None, accept)
        if form is not None and not signer.csrf_ok(token, str(form.get("csrf", ""))):
            return _message(request, "bad_form", 403)
        return case

    async def _context(self, case: Case, token: str) -> dict[str, Any]:
        core = self.core
        config = core.runtime.config
        settings = config.dispatcher.self_service
        signer = core.runtime.self_service[0]
        assert settings is not None and signer is not None
        person = await core.read(core.store.get_person, case.person_id)
        balance = await core.read(core.store.balance, case.id)
        arrangements = await core.read(core.store.arrangements_of, case.id)
        active = next((a for a in arrangements if a.state is ArrangementState.ACTIVE), None)
        stopped = {o.channel for o in person.opt_outs if o.contact is None} if person else set()
        return {
            "company": settings.company or str(config.dispatcher.template_vars.get("company", "")),
            "reference": case.id,
            "balance": money(balance, case.currency),
            "balance_value": str(balance),
            "currency": case.currency,
            "due_date": case.due_date.isoformat(),
            "payment_url": settings.payment_url,
            "arrangement": active,
            "may_arrange": refusal(case, balance) is None,
            "offers": [a for a, states in MAY_REPORT.items() if case.state in states],
            "channels": [(c, c in stopped or "*" in stopped) for c in config.dispatcher.channels],
            "preferences": preferences_shown(
                person.wishes if person else Wishes(), list(config.dispatcher.channels)
            ),
            "action_base": f"{PATH}{token}",
            "csrf": signer.csrf(token),
            "done": None,
            "problems": [],
            "labels": FIELD_LABELS,
            "values": {},  # what a refused form had, given back
        }

    async def _preferences_given_back(self, case: Case, form: dict[str, str]) -> dict[str, Any]:
        person = await self.core.read(self.core.store.get_person, case.person_id)
        channels = list(self.core.runtime.config.dispatcher.channels)
        return preferences_given_back(form, person.wishes if person else Wishes(), channels)

    async def show(self, request: web.Request) -> web.Response:
        opened = await self._open(request, None)
        if isinstance(opened, web.Response):
            return opened
        context = await self._context(opened, request.match_info["token"])
        done = request.query.get("done", "")
        context["done"] = done if done in DONE else None
        return _answer(request, "self_service.html", context, 200)

    async def act(self, request: web.Request) -> web.StreamResponse:
        action = request.match_info["action"]
        try:
            raw = await read_form(request)
        except ValueError:  # a body the form parser cannot read
            raise web.HTTPBadRequest() from None
        form = {k: v for k, v in raw.items() if isinstance(v, str)}
        opened = await self._open(request, form)
        if isinstance(opened, web.Response):
            return opened
        if action not in ACTIONS:
            return _message(request, "link_invalid", 404)
        token = request.match_info["token"]
        try:
            if action in ("promise", "plan"):
                done = await arrange(self.core, opened, action, form)
            elif action == "opt-out":
                done = await opt_out(self.core, opened, form)
            elif action == "preferences":
                done = await set_preferences(self.core, opened, form)
            else:
                done = await record_event(self.core, opened, action, form)
        except FormProblem as exc:
            context = await self._context(opened, token)
            context["problems"] = exc.problems
            context["values"] = {k: v for k, v in form.items() if k not in ("csrf", "lang")}
            if action == "preferences":
                context["preferences"] = await self._preferences_given_back(opened, form)
            return _answer(request, "self_service.html", context, 422)
        except Refused:
            return _message(request, "refused", 409)
        log.info("self-service action", extra={"fields": {"case": opened.id, "action": action}})
        lang = request[LANG]
        raise web.HTTPSeeOther(f"{PATH}{token}?done={done}&lang={lang}")


async def _stylesheet(_: web.Request) -> web.Response:
    with open(f"{package_dir('static')}/self_service.css", encoding="utf-8") as source:
        body = source.read()
    headers = {**HEADERS, "Cache-Control": "max-age=300"}
    return web.Response(text=body, content_type="text/css", headers=headers)


def mount_self_service(app: web.Application, core: CoreAccess) -> SelfServicePage:
    """Serve the person's page under ``/s/`` of ``app``."""
    page = SelfServicePage(core)
    sub = web.Application(middlewares=[page.middleware], client_max_size=MAX_FORM)
    sub.router.add_get("/static/self_service.css", _stylesheet)
    sub.router.add_get("/{token}", page.show)
    sub.router.add_post("/{token}/{action}", page.act)
    app.add_subapp(PATH.rstrip("/"), sub)
    return page
