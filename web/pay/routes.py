"""The card checkout routes: the pay page, the gateway's return URLs and its webhook.

``/pay/<token>``            the pay page (amount from our database, never from the URL)
``/pay/<pg>/success``      the gateway's success redirect → ``CardService.settle``
``/pay/<pg>/fail``         the gateway's fail redirect: a clear page, nothing changes
``/pay/<pg>/webhook``      the gateway's (unsigned) webhook → ``CardService.webhook``

Everything about money is decided in shop/cards.py; this module only reads the request
and renders the answer in the customer's language.
"""

from __future__ import annotations

import asyncio
import logging
from html import escape as _esc

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from shop.cards import PAY_PATH, CardService, PageState, PayPage, Settle, SettleResult
from web.pay.render import PAY_SCRIPT, Page, card, link, p, respond
from web.pay.texts import catalog, lang_of, money, t, when

log = logging.getLogger(__name__)

MAX_WEBHOOK_BYTES = 64 * 1024
WEBHOOK_ANSWER_SECONDS = 5.0  # answer the gateway fast; the fetch may finish after


def routes(cards: CardService, *, client_key: str, sdk_url: str) -> list[BaseRoute]:
    """The pay pages for ``cards``' gateway. ``client_key`` and ``sdk_url`` go to the
    browser (public values); the secret key stays in the gateway client."""
    pg = cards.gateway.name if cards.gateway is not None else "toss"
    pending: set[asyncio.Task[bool]] = set()

    async def pay_page(request: Request) -> Response:
        page = await cards.page(request.path_params["token"])
        if page is None:
            return respond(_not_found("ko"))
        return respond(_pay(cards, page, client_key, sdk_url))

    async def success(request: Request) -> Response:
        q = request.query_params
        result = await cards.settle(
            q.get("orderId", "")[:64], q.get("paymentKey", "")[:200], q.get("amount", "")[:20],
            q.get("t"),
        )  # fmt: skip
        return respond(_settled(cards, result))

    async def fail(request: Request) -> Response:
        q = request.query_params
        token, order_id = q.get("t") or "", q.get("orderId") or ""
        page = await cards.page(token) if token else None
        if page is None and order_id:
            page = await cards.page_for_order(order_id[:64])
        if page is None or (token and page.checkout.token != token):
            return respond(_invalid("ko"))
        return respond(_failed(page, q.get("code") or "", q.get("message") or ""))

    async def webhook(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_WEBHOOK_BYTES:
            return JSONResponse({"error": "too large"}, status_code=413)
        task = asyncio.ensure_future(cards.webhook(body))
        pending.add(task)
        task.add_done_callback(pending.discard)
        try:
            handled = await asyncio.wait_for(asyncio.shield(task), WEBHOOK_ANSWER_SECONDS)
        except TimeoutError:
            return JSONResponse({"ok": True})  # still fetching; the reconciler backs it up
        except Exception:
            log.exception("card webhook handling failed")
            return JSONResponse({"ok": False}, status_code=500)  # the gateway retries
        if not handled:
            return JSONResponse({"error": "not a payment event"}, status_code=400)
        return JSONResponse({"ok": True})

    base = PAY_PATH.rstrip("/")
    return [
        Route(f"{base}/{pg}/success", success),
        Route(f"{base}/{pg}/fail", fail),
        Route(f"{base}/{pg}/webhook", webhook, methods=["POST"]),
        Route(base + "/{token:str}", pay_page),
    ]


# ---- pages ---------------------------------------------------------------------------


def _head(page: PayPage, heading_key: str) -> str:
    return p(_esc(page.shop_name), "shop") + f"<h1>{t(page.language, heading_key)}</h1>"


def _pay(cards: CardService, page: PayPage, client_key: str, sdk_url: str) -> Page:
    lang, c = page.language, page.checkout
    if page.state is PageState.PAID:
        return _paid_page(lang, page.shop_name, c.amount, page.balance, c.receipt_url)
    if page.state is PageState.CONFIRMING:
        return _confirming(lang, page.shop_name, c.amount, "confirming_body")
    if page.state is PageState.EXPIRED:
        return _expired(lang, page.shop_name)
    success_url, fail_url = cards.return_urls(c)
    body = card(
        _head(page, "heading"),
        p(t(lang, "amount_label"), "label"),
        f'<div class="amount" id="amount">{_esc(money(lang, c.amount))}</div>',
        f'<button class="button" id="pay" type="button" disabled>{t(lang, "pay_button")}</button>',
        f"<noscript>{p(t(lang, 'noscript'), 'msg')}</noscript>",
        p("", "msg", "msg"),
        p(t(lang, "expires", time=when(lang, page.expires_local)), "note"),
        p(t(lang, "terms_note"), "note"),
        p(t(lang, "pay_note"), "note"),
        p(t(lang, "inapp_note"), "note"),
    )
    data = {
        "clientKey": client_key, "orderId": c.order_id, "orderName": page.order_name,
        "amount": c.amount, "successUrl": success_url, "failUrl": fail_url,
        "text": {"sdkMissing": _plain(lang, "sdk_missing"),
                 "windowError": _plain(lang, "window_error")},
    }  # fmt: skip
    return Page(lang, "title", body, script=PAY_SCRIPT, sdk_url=sdk_url, data=data)


def _plain(lang: str, key: str) -> str:
    """Unescaped catalog text: it travels as JSON and the script sets ``textContent``."""
    return catalog(lang_of(lang))[key]


def _paid_page(lang: str, shop: str, amount: int, balance: int, receipt: str | None) -> Page:
    parts = [
        p(_esc(shop), "shop"),
        f'<h1 class="ok" id="result">✅ {t(lang, "paid_heading")}</h1>',
        p(t(lang, "paid_body", amount=money(lang, amount))),
        p(t(lang, "balance", balance=money(lang, balance)), id_="balance"),
    ]
    if receipt:
        parts.append(p(link(receipt, t(lang, "receipt"))))
    parts.append(p(t(lang, "back_to_chat"), "note"))
    return Page(lang, "paid_title", card(*parts))


def _confirming(lang: str, shop: str, amount: int, body_key: str) -> Page:
    body = card(
        p(_esc(shop), "shop"),
        f'<h1 id="result">⏳ {t(lang, "confirming_heading")}</h1>',
        p(t(lang, body_key, amount=money(lang, amount))),
    )
    return Page(lang, "confirming_title", body, status=202)


def _expired(lang: str, shop: str | None = None) -> Page:
    body = card(
        p(_esc(shop), "shop") if shop else "",
        f'<h1 id="result">⌛ {t(lang, "expired_heading")}</h1>',
        p(t(lang, "expired_body")),
    )
    return Page(lang, "expired_title", body, status=410)


def _invalid(lang: str) -> Page:
    body = card(f'<h1 id="result">{t(lang, "invalid_heading")}</h1>', p(t(lang, "invalid_body")))
    return Page(lang, "invalid_title", body, status=400)


def _not_found(lang: str) -> Page:
    body = card(f'<h1 id="result">{t(lang, "not_found_heading")}</h1>',
                p(t(lang, "not_found_body")))  # fmt: skip
    return Page(lang, "not_found_title", body, status=404)


def _retry(page: PayPage) -> str:
    lang = page.language
    return p(link(f"{PAY_PATH}{page.checkout.token}", t(lang, "retry"), "button")) + p(
        t(lang, "still_payable", time=when(lang, page.expires_local)), "note"
    )


def _failed(page: PayPage, code: str, message: str) -> Page:
    lang = page.language
    if page.state is not PageState.PAYABLE:
        return _pay_state_page(page)
    if code == "PAY_PROCESS_CANCELED":
        why = p(t(lang, "canceled_body"))
    else:
        why = p(t(lang, "reason", message=(message or code)[:300]), id_="reason")
    body = card(
        p(_esc(page.shop_name), "shop"),
        f'<h1 id="result">{t(lang, "declined_heading")}</h1>',
        why,
        _retry(page),
    )
    return Page(lang, "declined_title", body)


def _pay_state_page(page: PayPage) -> Page:
    lang, c = page.language, page.checkout
    if page.state is PageState.PAID:
        return _paid_page(lang, page.shop_name, c.amount, page.balance, c.receipt_url)
    if page.state is PageState.CONFIRMING:
        return _confirming(lang, page.shop_name, c.amount, "confirming_body")
    return _expired(lang, page.shop_name)


def _settled(cards: CardService, r: SettleResult) -> Page:
    lang, c = r.language, r.checkout
    shop = cards.shop_name
    if r.outcome in (Settle.CREDITED, Settle.ALREADY) and c is not None:
        return _paid_page(lang, shop, c.amount, r.balance or 0, c.receipt_url)
    if r.outcome is Settle.PENDING and c is not None:
        return _confirming(lang, shop, c.amount, "confirming_body")
    if r.outcome is Settle.BUSY and c is not None:
        return _confirming(lang, shop, c.amount, "busy_body")
    if r.outcome is Settle.EXPIRED:
        return _expired(lang, shop)
    if r.outcome is Settle.DECLINED and c is not None:
        body = card(
            p(_esc(shop), "shop"),
            f'<h1 id="result">{t(lang, "declined_heading")}</h1>',
            p(t(lang, "reason", message=(r.message or r.code or "")[:300]), id_="reason"),
            p(link(f"{PAY_PATH}{c.token}", t(lang, "retry"), "button")),
        )
        return Page(lang, "declined_title", body)
    return _invalid(lang)
