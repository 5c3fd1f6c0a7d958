"""The console as an application mounted at ``/ui/`` (``/`` redirects to it): who is asking
(a session opened with an API token), in which language, the CSRF value of every form, and
the pages' routes (``pages``). The console follows ``[api]``: off when the API is off, with
the same tokens and scopes — ``read`` sees personal data masked, ``read:pii`` unmasked,
``write`` may resolve unknown attempts."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from dispatcher.api.access import CoreAccess
from dispatcher.api.auth import Caller, TokenBook, TokenBooks, token_digest
from dispatcher.ui import languages, pages
from dispatcher.ui.forms import CALLER, LANG, MAX_FORM, SESSION, read_form
from dispatcher.ui.render import SECURITY_HEADERS, package_dir, page
from dispatcher.ui.sessions import (
    COOKIE,
    LOGIN_COOKIE,
    Session,
    Sessions,
    login_csrf,
    login_form_ok,
    set_cookie,
)

log = logging.getLogger("dispatcher.ui")

PREFIX = "/ui"
# Routes anyone may reach: the login itself, the language switch, the static files.
PUBLIC = frozenset({"/ui/login", "/ui/lang", "/ui/static/{name}"})
STATIC = {"console.css": "text/css", "console.js": "text/javascript"}


class Console:
    """The console's state in one daemon: its sessions and the token books by config."""

    def __init__(self, core: CoreAccess, sessions: Sessions | None = None) -> None:
        self.core = core
        self.sessions = sessions or Sessions()
        self.books = TokenBooks()

    def book(self) -> TokenBook:
        runtime = self.core.runtime
        return self.books.current(runtime.version, runtime.config.dispatcher.api)

    def caller_of(self, session: Session | None) -> Caller | None:
        return self.book().identify_digest(session.digest) if session else None

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        request[LANG] = languages.choose(
            request.cookies.get(languages.COOKIE), request.headers.get("Accept-Language", "")
        )
        if not self.core.runtime.config.dispatcher.api.enabled:
            return page(request, "message.html", {"message": "not_found"}, status=404)
        session = self.sessions.get(request.cookies.get(COOKIE))
        caller = self.caller_of(session)
        request[SESSION] = session
        request[CALLER] = caller
        route = request.match_info.route.resource
        public = route is not None and route.canonical in PUBLIC
        if caller is None and not public:
            if request.path.endswith(".json"):
                return web.json_response({"error": "log in"}, status=401)
            raise web.HTTPSeeOther("/ui/login")
        if request.method == "POST" and not public:
            form = await read_form(request)
            if session is None or not session.form_ok(str(form.get("csrf", ""))):
                return page(request, "message.html", {"message": "bad_form"}, status=403)
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except Exception as exc:  # a page's own failure: logged by type only (no data)
            log.error(
                "console request failed",
                extra={"fields": {"route": request.path, "error": type(exc).__name__}},
            )
            return page(request, "message.html", {"message": "error"}, status=500)


def auth_routes(console: Console) -> list[web.RouteDef]:
    async def login_page(request: web.Request) -> web.Response:
        return _login(request, console, None, 200)

    async def login(request: web.Request) -> web.StreamResponse:
        form = await read_form(request)
        if not login_form_ok(request, str(form.get("csrf", ""))):
            return _login(request, console, "bad_form", 403)
        book = console.book()
        if not book.tokens:
            return _login(request, console, None, 503)
        presented = str(form.get("token", "")).strip()
        found = book.identify(presented) if presented else None
        if found is None:
            log.info("console login refused", extra={"fields": {"reason": "unknown token"}})
            return _login(request, console, "login_failed", 401)
        if not found.may("read"):
            return _login(request, console, "login_no_read", 403)
        opened = console.sessions.open(token_digest(presented))
        log.info("console login", extra={"fields": {"token": found.name}})
        response = web.HTTPSeeOther("/ui/")
        set_cookie(response, request, COOKIE, opened.id, console.sessions.lifetime)
        response.del_cookie(LOGIN_COOKIE, path="/ui/")
        raise response

    async def logout(request: web.Request) -> web.StreamResponse:
        console.sessions.close(request.cookies.get(COOKIE))
        response = web.HTTPSeeOther("/ui/login")
        response.del_cookie(COOKIE, path="/ui/")
        raise response

    async def language(request: web.Request) -> web.StreamResponse:
        chosen = request.query.get("to", "")
        back = request.query.get("next", "/ui/")
        # Only back into the console: never a redirect to another site (//host, \\host).
        if not back.startswith("/ui/") or "//" in back or "\\" in back:
            back = "/ui/"
        response = web.HTTPSeeOther(back)
        if chosen in languages.LANGUAGES:
            set_cookie(response, request, languages.COOKIE, chosen, 365 * 86400)
        raise response

    async def static(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in STATIC:
            raise web.HTTPNotFound()
        with open(f"{package_dir('static')}/{name}", encoding="utf-8") as source:
            body = source.read()
        headers = {**SECURITY_HEADERS, "Cache-Control": "max-age=300"}
        return web.Response(text=body, content_type=STATIC[name], headers=headers)

    return [
        web.get("/login", login_page),
        web.post("/login", login),
        web.post("/logout", logout),
        web.get("/lang", language),
        web.get("/static/{name}", static),
    ]


def _login(request: web.Request, console: Console, error: str | None, status: int) -> web.Response:
    book = console.book()
    unusable = None if book.tokens else "; ".join(book.unusable) or "no [[api.tokens]]"
    csrf = login_csrf(request)
    response = page(
        request, "login.html", {"csrf": csrf, "error": error, "unusable": unusable}, status
    )
    set_cookie(response, request, LOGIN_COOKIE, csrf, 3600)
    return response


def mount_console(app: web.Application, core: CoreAccess) -> Console:
    """Serve the console under ``/ui/`` of ``app``, ``/`` redirecting to it."""
    console = Console(core)
    sub = web.Application(middlewares=[console.middleware], client_max_size=MAX_FORM)
    sub.add_routes(auth_routes(console))
    sub.add_routes(pages.routes(console.core))

    async def to_console(_: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/ui/")

    app.router.add_get("/", to_console)
    app.router.add_get(PREFIX, to_console)
    app.add_subapp(PREFIX, sub)
    return console
