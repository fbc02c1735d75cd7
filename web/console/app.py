"""The owner's web console: pages and form actions over the shop's use-cases.

Reads go through ``shop.console``; every change goes through the same use-case the chat's
/admin uses (``shop.topups.approve``, ``shop.admin.refund_review``…), so the web and the
chat obey one set of rules and the same compare-and-set decides who was first. Every
action runs inside ``acting_from("web")``: its audit row says it came from the web.

Nothing answers without a live session except the one-time login link itself.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from shop import statuses as st
from shop.access import AdminSession, acting_from
from shop.admin import check_reason, parse_adjustment, parse_markup, parse_price_override
from shop.console import LATE, TABS
from shop.context import new_token
from shop.parsing import InputError, parse_int
from shop.shop import Shop
from shop.topups import Decision
from web.console import PREFIX, http, render
from web.console.i18n import catalog, label, pick, t

log = logging.getLogger(__name__)

MAX_BROADCAST = 3500
MAX_REFUND = 100_000_000  # the use-case bounds it by the order's price
MAX_FLASHES = 1000
METHOD_ORDER = ("bank", "stars", "card")
STATUS_ORDER = (*st.ALL,)
IDEM_RE = re.compile(r"^[A-Za-z0-9_-]{8,40}$")
SAFE_NEXT = re.compile(r"^/console/[A-Za-z0-9/_?=&%.+-]*$")
MAX_ID = 2**63 - 1  # SQLite's largest integer: a longer id in a path names nothing

Handler = Callable[..., Awaitable[Response]]


@dataclass(frozen=True)
class Visit:
    """One request of a signed-in admin."""

    request: Request
    secret: str
    session: AdminSession

    @property
    def admin_id(self) -> int:
        return self.session.admin_id

    @property
    def lang(self) -> str:
        return self.session.language

    @property
    def csrf(self) -> str:
        return http.csrf_token(self.secret)

    def t(self, key: str, **params: Any) -> str:
        return t(self.lang, key, **params)


def _int(raw: str | None, default: int = 0, hi: int = 1_000_000) -> int:
    try:
        value = int(raw or default)
    except ValueError:
        return default
    return min(max(value, 0), hi)


def _ids_fit(request: Request) -> bool:
    """The ``{…:int}`` parts of the path take any digits; past SQLite's range none exists."""
    return all(not isinstance(v, int) or v <= MAX_ID for v in request.path_params.values())


def _next(raw: str | None, default: str) -> str:
    """Only a path inside the console: a form cannot redirect the admin elsewhere."""
    return raw if raw and SAFE_NEXT.match(raw) and "//" not in raw else default


class Console:
    def __init__(
        self, shop: Shop, *, public_url: str | None = None, session_idle_minutes: int = 60
    ) -> None:
        self.shop = shop
        self.public_url = public_url.rstrip("/") if public_url else None
        self.idle = timedelta(minutes=session_idle_minutes)
        self.env = render.environment()
        self.files = render.static_files()
        self.when = render.Clock(shop.settings.timezone)
        self._flashes: dict[str, list[tuple[str, str]]] = {}

    # ---- plumbing ----------------------------------------------------------------------

    def _secure(self, request: Request) -> bool:
        return http.secure_for(self.public_url, request)

    async def _visit(self, request: Request) -> Visit | None:
        secret = http.session_secret(request, self._secure(request))
        if secret is None:
            return None
        session = await self.shop.access.session(secret, self.idle)
        return None if session is None else Visit(request, secret, session)

    def _page(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            visit = await self._visit(request)
            if visit is None:
                return self._signin(request, 401)
            if not _ids_fit(request):
                return self._plain(request, 404, "errors.not_found")
            with acting_from("web"):
                return http.with_headers(await handler(visit))

        return endpoint

    def _action(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            visit = await self._visit(request)
            if visit is None:
                return self._signin(request, 401)
            if not _ids_fit(request):
                return self._plain(request, 404, "errors.not_found")
            if not http.same_origin(request, self.public_url):
                log.warning("console POST from another origin refused: %s", request.url.path)
                return self._plain(request, 403, "errors.forbidden")
            form = await http.read_form(request)
            if form is None or not http.csrf_ok(visit.secret, form.get("csrf")):
                log.warning("console POST without a valid CSRF token: %s", request.url.path)
                return self._plain(request, 403, "errors.csrf")
            with acting_from("web"):
                return http.with_headers(await handler(visit, form))

        return endpoint

    def _template(self, name: str, lang: str, **data: Any) -> str:
        return self.env.get_template(name).render(
            lang=lang,
            t=lambda key, **p: t(lang, key, **p),
            when=self.when,
            static=self._static_url,
            shop_name=self.shop.settings.name,
            status_label=lambda s: label(lang, f"status.{s}", s),
            label=lambda key, fallback: label(lang, key, fallback),
            **data,
        )

    def _render(self, visit: Visit, name: str, *, nav: str, title: str, **data: Any) -> Response:
        flashes = self._flashes.pop(visit.session.key, [])
        body = self._template(
            name, visit.lang, nav=nav, title=title, csrf=visit.csrf, flashes=flashes,
            admin_id=visit.admin_id, path=visit.request.url.path,
            here=visit.request.url.path
            + (f"?{visit.request.url.query}" if visit.request.url.query else ""),
            **data,
        )  # fmt: skip
        return HTMLResponse(body)

    def _plain(self, request: Request, status: int, key: str) -> Response:
        lang = pick(request.headers.get("accept-language"))
        body = self._template("message.html", lang, title=t(lang, key), message_key=key)
        return http.with_headers(HTMLResponse(body, status_code=status))

    def _signin(self, request: Request, status: int, key: str = "signin.needed") -> Response:
        if request.url.path.endswith("/progress"):
            return http.with_headers(JSONResponse({"error": "no session"}, status_code=status))
        return self._plain(request, status, key)

    def _flash(self, visit: Visit, level: str, key: str, **params: Any) -> None:
        if len(self._flashes) > MAX_FLASHES:
            self._flashes.pop(next(iter(self._flashes)))
        self._flashes.setdefault(visit.session.key, []).append((level, visit.t(key, **params)))

    def _error(self, visit: Visit, exc: InputError) -> None:
        key = f"errors.{exc.code}"
        self._flash(visit, "error", key if key in self._known() else "errors.generic",
                    **exc.params)  # fmt: skip

    @staticmethod
    def _known() -> dict[str, str]:
        return catalog("ko")

    @staticmethod
    def _redirect(url: str) -> Response:
        return RedirectResponse(url, status_code=303)

    def _static_url(self, name: str) -> str:
        return f"{PREFIX}/static/{name}?v={self.files[name].version}"

    # ---- sign in and out ---------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        """A one-time link: the session opens at once; the page then moves on by itself
        (a same-site navigation, so the SameSite=Strict cookie goes with it)."""
        opened = await self.shop.access.open_session(
            request.path_params["secret"], user_agent=request.headers.get("user-agent")
        )
        if opened is None:
            return self._plain(request, 403, "signin.link_invalid")
        secret, session = opened
        body = self._template("login.html", session.language, title=t(session.language,
                              "signin.welcome"))  # fmt: skip
        response = HTMLResponse(body)
        http.set_session_cookie(response, secret, self._secure(request))
        return http.with_headers(response)

    async def logout(self, visit: Visit, form: dict[str, str]) -> Response:
        await self.shop.access.end(visit.session)
        response = self._plain(visit.request, 200, "signin.signed_out")
        http.clear_session_cookie(response, self._secure(visit.request))
        return response

    async def language(self, visit: Visit, form: dict[str, str]) -> Response:
        lang = form.get("lang", "")
        if lang in ("ko", "en"):
            await self.shop.access.set_language(visit.session, lang)
        return self._redirect(_next(form.get("next"), f"{PREFIX}/"))

    async def static(self, request: Request) -> Response:
        visit = await self._visit(request)
        if visit is None:
            return self._signin(request, 401)
        found = self.files.get(request.path_params["name"])
        if found is None:
            return self._plain(request, 404, "errors.not_found")
        response = FileResponse(found.path, media_type=found.media_type)
        response.headers["Cache-Control"] = "private, max-age=86400"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    # ---- dashboard ---------------------------------------------------------------------

    async def dashboard(self, visit: Visit) -> Response:
        d = await self.shop.console.dashboard(visit.admin_id)
        if d is None:
            return self._plain(visit.request, 403, "errors.forbidden")
        methods = sorted(
            {m for f in d.report.periods.values() for m in f.topups},
            key=lambda m: (METHOD_ORDER.index(m) if m in METHOD_ORDER else 99, m),
        )
        month = d.report.periods["30d"]
        statuses = [s for s in STATUS_ORDER if month.by_status.get(s)]
        chart = {
            "labels": [day.strftime("%m-%d") for day, _f in d.report.days],
            "sales": [f.sales for _d, f in d.report.days],
            "refunds": [f.refunds for _d, f in d.report.days],
            "profit": [f.profit for _d, f in d.report.days],
            "names": {k: visit.t(f"dashboard.{k}") for k in ("sales", "refunds", "profit")},
            "status": {
                "labels": [visit.t(f"status.{s}") for s in statuses],
                "keys": statuses,
                "values": [month.by_status[s] for s in statuses],
            },
        }
        return self._render(
            visit, "dashboard.html", nav="dashboard", title=visit.t("nav.dashboard"), d=d,
            methods=methods, periods=("today", "7d", "30d"), chart=render.script_json(chart),
            statuses_month=statuses,
        )  # fmt: skip

    # ---- orders ------------------------------------------------------------------------

    async def orders(self, visit: Visit) -> Response:
        params = visit.request.query_params
        tab = params.get("tab", "all")
        if tab not in TABS and tab != LATE:
            tab = "all"
        query = params.get("q", "").strip()[:100]
        customer = _int(params.get("customer"), hi=2**62) or None
        found = await self.shop.console.search_orders(
            visit.admin_id, tab=tab, query=query, page=_int(params.get("page")), user_id=customer
        )
        counts = await self.shop.console.order_counts(visit.admin_id)
        return self._render(
            visit, "orders.html", nav="orders", title=visit.t("nav.orders"), found=found,
            counts=counts, tab=tab, query=query, tabs=list(TABS), customer=customer or "",
        )  # fmt: skip

    async def order(self, visit: Visit) -> Response:
        order_id = visit.request.path_params["order_id"]
        detail = await self.shop.console.order(visit.admin_id, order_id)
        if detail is None:
            return self._plain(visit.request, 404, "errors.not_found")
        return self._render(
            visit, "order.html", nav="orders", title=visit.t("order.title", id=order_id),
            o=detail, order=detail.line.order,
        )  # fmt: skip

    async def order_action(self, visit: Visit, form: dict[str, str]) -> Response:
        order_id = visit.request.path_params["order_id"]
        verb = visit.request.path_params["verb"]
        admin = self.shop.admin
        back = f"{PREFIX}/orders/{order_id}"
        if verb == "refund":
            if form.get("confirm") != "yes":
                self._flash(visit, "error", "errors.confirm_needed")
                return self._redirect(back)
            try:
                raw = (form.get("amount") or "").strip()
                amount = parse_int(raw, lo=1, hi=MAX_REFUND) if raw else None  # None: all
                result = await admin.refund_order(
                    visit.admin_id, order_id, form.get("reason", ""), amount
                )
            except InputError as exc:
                self._error(visit, exc)
                return self._redirect(back)
            if result.decision == Decision.DONE and result.order is not None:
                refunded = result.order.refunded
                self._flash(visit, "ok", "order.refund_done", id=order_id, amount=refunded)
            else:
                self._decision(visit, result.decision, result.order.status if result.order else "")
        elif verb == "attach":
            try:
                result = await admin.attach_panel_order(
                    visit.admin_id, order_id, form.get("panel_id", ""), form.get("reason") or None
                )
            except InputError as exc:
                self._error(visit, exc)
                return self._redirect(back)
            if result.decision == Decision.DONE:
                panel_id = result.order.panel_order_id if result.order else ""
                self._flash(visit, "ok", "order.attached", id=order_id, panel_id=panel_id)
            elif result.error:
                self._flash(visit, "error", "order.panel_check_failed", error=result.error)
            else:
                self._decision(visit, result.decision, result.order.status if result.order else "")
        elif verb in ("cancel", "refill"):
            ask = admin.request_cancel if verb == "cancel" else admin.request_refill
            outcome = await ask(visit.admin_id, order_id)
            key = f"actions.{outcome.code}"
            self._flash(visit, "ok" if outcome.ok else "error",
                        key if key in self._known() else "errors.generic")  # fmt: skip
        else:
            return self._plain(visit.request, 404, "errors.not_found")
        return self._redirect(back)

    def _decision(self, visit: Visit, decision: Decision, status: str) -> None:
        if decision == Decision.ALREADY:
            label = visit.t(f"status.{status}") if status else ""
            self._flash(visit, "error", "errors.already", status=label)
        elif decision == Decision.NOT_FOUND:
            self._flash(visit, "error", "errors.not_found")
        else:
            self._flash(visit, "error", "errors.forbidden")

    # ---- top-ups -----------------------------------------------------------------------

    async def topups(self, visit: Visit) -> Response:
        params = visit.request.query_params
        methods = await self.shop.console.topup_methods(visit.admin_id)
        method = params.get("method") or None
        if method not in methods:
            method = None
        page = _int(params.get("page"))
        return self._render(
            visit, "topups.html", nav="topups", title=visit.t("nav.topups"),
            pending=await self.shop.console.pending_topups(visit.admin_id),
            history=await self.shop.console.topup_history(
                visit.admin_id, method=method, page=page
            ),
            methods=methods, method=method or "",
        )  # fmt: skip

    async def topup_action(self, visit: Visit, form: dict[str, str]) -> Response:
        topup_id = visit.request.path_params["topup_id"]
        verb = visit.request.path_params["verb"]
        topups = self.shop.topups
        if verb == "approve":
            result = await topups.approve(topup_id, visit.admin_id)
        elif verb == "reject":
            try:
                reason = check_reason(form.get("reason"))
            except InputError as exc:
                self._error(visit, exc)
                return self._redirect(f"{PREFIX}/topups")
            result = await topups.reject(topup_id, visit.admin_id, reason)
        else:
            return self._plain(visit.request, 404, "errors.not_found")
        if result.decision == Decision.DONE and result.topup is not None:
            key = "topups.approved" if verb == "approve" else "topups.rejected"
            self._flash(visit, "ok", key, id=topup_id, amount=result.topup.amount,
                        balance=result.balance or 0)  # fmt: skip
        else:
            status = result.topup.status if result.topup else ""
            label = visit.t(f"topups.status_{status}") if status else ""
            if result.decision == Decision.ALREADY:
                self._flash(visit, "error", "errors.already", status=label)
            else:
                self._decision(visit, result.decision, "")
        return self._redirect(f"{PREFIX}/topups")

    # ---- customers ---------------------------------------------------------------------

    async def customers(self, visit: Visit) -> Response:
        params = visit.request.query_params
        query = params.get("q", "").strip()[:100]
        found = await self.shop.console.customers(
            visit.admin_id, query=query, page=_int(params.get("page"))
        )
        return self._render(
            visit, "customers.html", nav="customers", title=visit.t("nav.customers"),
            found=found, query=query,
        )  # fmt: skip

    async def customer(self, visit: Visit) -> Response:
        user_id = visit.request.path_params["user_id"]
        detail = await self.shop.console.customer(
            visit.admin_id, user_id, _int(visit.request.query_params.get("page"))
        )
        if detail is None:
            return self._plain(visit.request, 404, "errors.not_found")
        return self._render(
            visit, "customer.html", nav="customers",
            title=visit.t("customer.title", name=detail.line.customer.label), c=detail,
            idem=new_token(),
        )  # fmt: skip

    async def customer_action(self, visit: Visit, form: dict[str, str]) -> Response:
        user_id = visit.request.path_params["user_id"]
        verb = visit.request.path_params["verb"]
        back = f"{PREFIX}/customers/{user_id}"
        try:
            if verb == "adjust":
                idem = form.get("idem", "")
                if not IDEM_RE.match(idem):
                    return self._plain(visit.request, 400, "errors.generic")
                result = await self.shop.admin.adjust_balance(
                    visit.admin_id, user_id, parse_adjustment(form.get("amount")),
                    form.get("reason", ""), f"web:{idem}",
                )  # fmt: skip
                if result.decision == Decision.DONE:
                    self._flash(visit, "ok", "customer.adjusted", balance=result.balance or 0)
                elif result.decision == Decision.ALREADY:
                    self._flash(visit, "error", "customer.adjusted_before")
                else:
                    self._decision(visit, result.decision, "")
            elif verb in ("block", "unblock"):
                changed = await self.shop.admin.set_banned(
                    visit.admin_id, user_id, verb == "block", form.get("reason", "")
                )
                key = f"customer.{verb}ed" if changed else "errors.nothing_changed"
                self._flash(visit, "ok" if changed else "error", key)
            else:
                return self._plain(visit.request, 404, "errors.not_found")
        except InputError as exc:
            self._error(visit, exc)
        return self._redirect(back)

    # ---- catalog -----------------------------------------------------------------------

    async def catalog(self, visit: Visit) -> Response:
        params = visit.request.query_params
        query = params.get("q", "").strip()[:100]
        show = params.get("show", "all")
        if show not in ("all", "visible", "hidden", "removed"):
            show = "all"
        found = await self.shop.console.services(
            visit.admin_id, query=query, show=show, page=_int(params.get("page"))
        )
        return self._render(
            visit, "catalog.html", nav="catalog", title=visit.t("nav.catalog"), found=found,
            query=query, show=show, markup=str(self.shop.catalog.markup_percent),
        )  # fmt: skip

    async def catalog_action(self, visit: Visit, form: dict[str, str]) -> Response:
        verb = visit.request.path_params["verb"]
        back = _next(form.get("back"), f"{PREFIX}/catalog")
        if verb == "sync":
            try:
                report = await self.shop.admin.sync_catalog(visit.admin_id)
            except Exception as exc:  # a panel failure is reported, never a crash
                log.warning("console catalog sync failed: %s", exc)
                self._flash(visit, "error", "catalog.sync_failed", error=str(exc)[:200])
                return self._redirect(back)
            if report is not None:
                self._flash(visit, "ok", "catalog.synced", new=report.new,
                            updated=report.updated, removed=report.removed,
                            total=report.total)  # fmt: skip
        elif verb == "markup":
            try:
                percent = parse_markup(form.get("markup"))
            except InputError as exc:
                self._error(visit, exc)
                return self._redirect(back)
            await self.shop.admin.set_markup(visit.admin_id, self.shop.catalog, percent)
            self._flash(visit, "ok", "catalog.markup_set", markup=str(percent))
        else:
            return self._plain(visit.request, 404, "errors.not_found")
        return self._redirect(back)

    async def service_action(self, visit: Visit, form: dict[str, str]) -> Response:
        service_id = visit.request.path_params["service_id"]
        verb = visit.request.path_params["verb"]
        back = _next(form.get("back"), f"{PREFIX}/catalog")
        admin = self.shop.admin
        if verb == "visible":
            visible = form.get("visible") == "1"
            ok = await admin.set_visible(visit.admin_id, service_id, visible)
            key = ("catalog.shown" if visible else "catalog.hidden") if ok else "errors.not_found"
            self._flash(visit, "ok" if ok else "error", key, id=service_id)
        elif verb == "price":
            try:
                price = parse_price_override(form.get("price"))
            except InputError as exc:
                self._error(visit, exc)
                return self._redirect(back)
            ok = await admin.set_price_override(visit.admin_id, service_id, price)
            key = (
                ("catalog.price_set" if price else "catalog.price_cleared")
                if ok
                else ("errors.not_found")
            )
            self._flash(visit, "ok" if ok else "error", key, id=service_id, price=price or 0)
        else:
            return self._plain(visit.request, 404, "errors.not_found")
        return self._redirect(back)

    # ---- audit log and broadcasts -----------------------------------------------------

    async def audit(self, visit: Visit) -> Response:
        params = visit.request.query_params
        source = params.get("source") or None
        if source not in (None, "chat", "web", "cli"):
            source = None
        actions = await self.shop.console.audit_actions(visit.admin_id)
        action = params.get("action") or None
        if action not in actions:
            action = None
        found = await self.shop.console.audit(
            visit.admin_id, source=source, action=action, page=_int(params.get("page"))
        )
        return self._render(
            visit, "audit.html", nav="audit", title=visit.t("nav.audit"), found=found,
            source=source or "", action=action or "", actions=actions,
        )  # fmt: skip

    async def broadcasts(self, visit: Visit) -> Response:
        return self._render(
            visit, "broadcasts.html", nav="broadcasts", title=visit.t("nav.broadcasts"),
            lines=await self.shop.console.broadcasts(visit.admin_id), unescape=html.unescape,
        )  # fmt: skip

    async def broadcast_send(self, visit: Visit, form: dict[str, str]) -> Response:
        text = (form.get("text") or "").strip()
        if not text or len(text) > MAX_BROADCAST:
            self._flash(visit, "error", "broadcast.length", max=MAX_BROADCAST)
            return self._redirect(f"{PREFIX}/broadcasts")
        if form.get("confirm") != "yes":
            self._flash(visit, "error", "errors.confirm_needed")
            return self._redirect(f"{PREFIX}/broadcasts")
        broadcast_id = new_token()
        # The chat's rule: what the admin typed is sent as text, never as markup.
        queued = await self.shop.admin.broadcast(
            visit.admin_id, broadcast_id, html.escape(text, quote=False)
        )
        self._flash(visit, "ok", "broadcast.started", total=queued)
        return self._redirect(f"{PREFIX}/broadcasts/{broadcast_id}")

    async def broadcast(self, visit: Visit) -> Response:
        line = await self.shop.console.broadcast(visit.admin_id, visit.request.path_params["bid"])
        if line is None:
            return self._plain(visit.request, 404, "errors.not_found")
        return self._render(
            visit, "broadcast.html", nav="broadcasts", title=visit.t("broadcast.title"),
            b=line, unescape=html.unescape,
        )  # fmt: skip

    async def broadcast_progress(self, visit: Visit) -> Response:
        line = await self.shop.console.broadcast(visit.admin_id, visit.request.path_params["bid"])
        if line is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        return JSONResponse(
            {
                "queued": line.queued,
                "sent": line.sent,
                "failed": line.failed,
                "left": line.left,
                "finished": line.finished,
            }
        )

    # ---- routes ------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        page, action = self._page, self._action

        async def to_root(request: Request) -> Response:
            return RedirectResponse(f"{PREFIX}/", status_code=307)

        return [
            Route(PREFIX, to_root),
            Route(f"{PREFIX}/login/{{secret}}", self.login),
            Route(f"{PREFIX}/logout", action(self.logout), methods=["POST"]),
            Route(f"{PREFIX}/language", action(self.language), methods=["POST"]),
            Route(f"{PREFIX}/static/{{name:path}}", self.static),
            Route(f"{PREFIX}/", page(self.dashboard)),
            Route(f"{PREFIX}/orders", page(self.orders)),
            Route(f"{PREFIX}/orders/{{order_id:int}}", page(self.order)),
            Route(
                f"{PREFIX}/orders/{{order_id:int}}/{{verb}}",
                action(self.order_action),
                methods=["POST"],
            ),
            Route(f"{PREFIX}/topups", page(self.topups)),
            Route(
                f"{PREFIX}/topups/{{topup_id:int}}/{{verb}}",
                action(self.topup_action),
                methods=["POST"],
            ),
            Route(f"{PREFIX}/customers", page(self.customers)),
            Route(f"{PREFIX}/customers/{{user_id:int}}", page(self.customer)),
            Route(
                f"{PREFIX}/customers/{{user_id:int}}/{{verb}}",
                action(self.customer_action),
                methods=["POST"],
            ),
            Route(f"{PREFIX}/catalog", page(self.catalog)),
            Route(f"{PREFIX}/catalog/{{verb}}", action(self.catalog_action), methods=["POST"]),
            Route(
                f"{PREFIX}/catalog/{{service_id:int}}/{{verb}}",
                action(self.service_action),
                methods=["POST"],
            ),
            Route(f"{PREFIX}/audit", page(self.audit)),
            Route(f"{PREFIX}/broadcasts", page(self.broadcasts)),
            Route(f"{PREFIX}/broadcasts", action(self.broadcast_send), methods=["POST"]),
            Route(f"{PREFIX}/broadcasts/{{bid}}", page(self.broadcast)),
            Route(f"{PREFIX}/broadcasts/{{bid}}/progress", page(self.broadcast_progress)),
        ]
