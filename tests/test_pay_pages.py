"""web/pay over real HTTP: the pay page, the return URLs and the webhook, with the Toss
stand-in's window and API on another port. Issue 13 step 4, as the browser sees it."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from payments.toss import TossClient
from sandbox.server import start_uvicorn, stop_uvicorn
from sandbox.toss import TEST_CLIENT_KEY, TEST_SECRET_KEY, TossServer, TossStandIn, serve_toss
from shop.cards import Checkout
from shop.clock import ManualClock
from shop.context import ShopContext
from shop.settings import ShopSettings
from shop.shop import Shop
from storage.db import Database
from tests.tossenv import open_window, press
from web.pay import routes

SHOP_NAME = "MASK24 <b>&</b>"


@dataclass
class PayEnv:
    shop: Shop
    toss: TossServer
    url: str  # our web face
    clock: ManualClock
    db: Database

    async def checkout(self, amount: int = 10_000, telegram_id: int = 501, lang: str = "ko"):
        user = await self.shop.users.ensure(telegram_id, None, "고객", lang)
        return user.id, await self.shop.cards.create_checkout(user.id, amount)

    async def balance(self, user_id: int) -> int:
        return (await self.shop.users.get(user_id)).balance

    async def credits(self) -> int:
        return len(await self.db.fetch_all("SELECT 1 FROM ledger WHERE idem_key LIKE 'card:%'"))


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[PayEnv]:
    clock = ManualClock()
    toss = await serve_toss(TossStandIn(clock=clock.now))
    app = Starlette()
    server, port, task = await start_uvicorn(app)
    url = f"http://127.0.0.1:{port}"
    toss.sim.webhook_url = f"{url}/pay/toss/webhook"
    db = await Database(tmp_path / "shop.sqlite3").open()
    # 1.5 s: long enough for a loaded CI machine, short for the held "timeout" faults
    gateway = TossClient(TEST_SECRET_KEY, api_url=toss.url, timeout=1.5)
    settings = ShopSettings(name=SHOP_NAME, public_url=url)
    ctx = ShopContext(db=db, panel=None, settings=settings, clock=clock, gateway=gateway)  # type: ignore[arg-type]
    shop = Shop(ctx)
    app.router.routes.extend(routes(shop.cards, client_key=TEST_CLIENT_KEY, sdk_url=toss.sdk_url))
    try:
        yield PayEnv(shop, toss, url, clock, db)
    finally:
        await toss.stop()
        await stop_uvicorn(server, task)
        await gateway.aclose()
        await db.close()


class Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.external: list[str] = []
        self.inline = 0
        self.styles: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script" and a.get("src"):
            self.external.append(a["src"])
        elif tag == "script" and a.get("type") != "application/json":
            self.inline += 1
        if (tag == "link" and a.get("rel") == "stylesheet") or (
            tag == "style" and "nonce" not in a
        ):
            self.styles.append(str(a))


def page_data(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="checkout">(.*?)</script>', html, re.S)
    assert found, html
    return json.loads(found.group(1))


async def get(url: str) -> httpx.Response:
    async with httpx.AsyncClient() as http:  # a fresh client: no cookies, "another browser"
        return await http.get(url)


async def buy(env: PayEnv, c: Checkout, action: str = "pay", amount: int | None = None) -> str:
    """Open our pay page, hand its data to the stand-in's window like the SDK does, press a
    button; returns the URL Toss sends the browser back to."""
    data = page_data((await get(env.shop.cards.pay_url(c))).text)
    status, key = await open_window(
        env.toss.url, order_id=data["orderId"], amount=amount or data["amount"],
        success_url=data["successUrl"], fail_url=data["failUrl"],
        order_name=data["orderName"], client_key=data["clientKey"],
    )  # fmt: skip
    assert status == 200, key
    return (await press(env.toss.url, key, action)).url


async def test_pay_page_shows_the_stored_amount_and_only_the_sdk(env):
    _, c = await env.checkout(12_345)
    resp = await get(env.shop.cards.pay_url(c))
    assert resp.status_code == 200
    html = resp.text
    assert "12,345원" in html and "MASK24 &lt;b&gt;&amp;&lt;/b&gt;" in html and "<b>&" not in html
    assert "환불되지 않아요" in html  # terms 8, before paying
    scripts = Scripts()
    scripts.feed(html)
    assert scripts.external == [env.toss.sdk_url] and scripts.inline == 1 and not scripts.styles
    data = page_data(html)
    assert data["orderId"] == c.order_id and data["amount"] == 12_345
    assert data["clientKey"] == TEST_CLIENT_KEY and TEST_SECRET_KEY not in html
    assert data["successUrl"] == f"{env.url}/pay/toss/success?t={c.token}"
    assert data["failUrl"] == f"{env.url}/pay/toss/fail?t={c.token}"
    csp = resp.headers["content-security-policy"]
    assert "script-src 'nonce-" in csp and env.toss.url in csp and "unsafe-inline" not in (
        csp.split("script-src")[1].split(";")[0])  # fmt: skip
    assert resp.headers["cache-control"] == "no-store"
    _, en = await env.checkout(5000, telegram_id=777, lang="en")
    assert "Pay by card" in (await get(env.shop.cards.pay_url(en))).text
    for bad in ("nope", "x" * 40, "%3Cscript%3E"):
        missing = await get(f"{env.url}/pay/{bad}")
        assert missing.status_code == 404 and "<script" not in missing.text


async def test_paid_once_however_often_and_wherever_the_success_url_opens(env):
    uid, c = await env.checkout(10_000)
    back = await buy(env, c)
    assert back.startswith(f"{env.url}/pay/toss/success?t={c.token}&paymentType=NORMAL")
    for _ in range(3):  # first visit, reload, another browser
        page = await get(back)
        assert page.status_code == 200
        assert "충전 완료" in page.text and "현재 잔액: 10,000원" in page.text
        assert 'href="https://dashboard.tosspayments.com/receipt/' in page.text
    assert await env.balance(uid) == 10_000 and await env.credits() == 1
    await env.toss.sim.settle_webhooks()  # Toss's DONE webhook arrived too: nothing more
    assert env.toss.sim.deliveries and all(d.delivered for d in env.toss.sim.deliveries)
    assert await env.balance(uid) == 10_000 and await env.credits() == 1
    again = await get(env.shop.cards.pay_url(c))
    assert "충전 완료" in again.text and 'id="pay"' not in again.text


async def test_declined_and_closed_windows_leave_it_payable(env):
    uid, c = await env.checkout(7000)
    declined = await get(await buy(env, c, "decline"))
    assert declined.status_code == 200 and "결제가 승인되지 않았어요" in declined.text
    assert "카드사에서 결제를 거절했습니다" in declined.text
    assert f'href="/pay/{c.token}"' in declined.text  # 다시 결제하기
    closed = await get(await buy(env, c, "close"))
    assert "결제를 취소하셨어요" in closed.text
    paid = await get(await buy(env, c))
    assert "충전 완료" in paid.text and await env.balance(uid) == 7000


async def test_fail_page_escapes_what_the_gateway_sent(env):
    _, c = await env.checkout(7000)
    evil = "<script>alert(1)</script>"
    async with httpx.AsyncClient() as http:
        resp = await http.get(f"{env.url}/pay/toss/fail",
                              params={"t": c.token, "code": "X", "message": evil})  # fmt: skip
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in resp.text and evil not in resp.text
    other = await get(f"{env.url}/pay/toss/fail?t=unknown-token&code=X")
    assert other.status_code == 400


async def test_refused_returns_confirm_nothing(env):
    uid, c = await env.checkout(10_000)
    _, theirs = await env.checkout(20_000, telegram_id=502)
    back = await buy(env, c)
    tampered = back.replace("amount=10000", "amount=100")
    foreign = back.replace(f"t={c.token}", f"t={theirs.token}")
    unknown = back.replace(c.order_id, "cNotOurs12345678")
    for url in (tampered, foreign, unknown):
        page = await get(url)
        assert page.status_code == 400 and "결제를 확인할 수 없어요" in page.text, url
    assert env.toss.sim.confirms == [] and await env.balance(uid) == 0
    # and the genuine return still works afterwards
    assert "충전 완료" in (await get(back)).text


async def test_tampered_window_amount_is_refused(env):
    uid, c = await env.checkout(10_000)
    back = await buy(env, c, amount=100)  # the page's script was edited to ask for 100원
    page = await get(back)
    assert page.status_code == 400 and env.toss.sim.confirms == []
    assert await env.balance(uid) == 0


async def test_expired_checkout(env):
    uid, c = await env.checkout(10_000)
    back = await buy(env, c)
    env.clock.advance(minutes=16)
    page = await get(back)
    assert page.status_code == 410 and "결제 시간이 지났어요" in page.text
    assert (await get(env.shop.cards.pay_url(c))).status_code == 410
    assert env.toss.sim.confirms == [] and await env.balance(uid) == 0


@pytest.mark.parametrize("fault", ["timeout_after_commit", "500_after_commit"])
async def test_confirm_lost_after_commit_still_shows_charged_once(env, fault):
    uid, c = await env.checkout(10_000)
    back = await buy(env, c)
    env.toss.sim.fail_next_confirm(fault)
    page = await get(back)
    assert "충전 완료" in page.text and "10,000원" in page.text
    assert "충전 완료" in (await get(back)).text
    await env.toss.sim.settle_webhooks()
    assert await env.balance(uid) == 10_000 and await env.credits() == 1


async def test_webhook_finishes_what_the_redirect_could_not(env):
    uid, c = await env.checkout(10_000)
    back = await buy(env, c)
    env.toss.sim.auto_deliver = False
    env.toss.sim.fail_next_confirm("500_after_commit")
    env.toss.sim.lookup_faults = 1
    page = await get(back)
    assert page.status_code == 202 and "결제를 확인하고 있어요" in page.text
    assert await env.balance(uid) == 0
    # Toss's webhook (DONE) reaches /pay/toss/webhook: fetched again, credited once
    assert await env.toss.sim.deliver_due() == 1
    assert await env.balance(uid) == 10_000
    assert "충전 완료" in (await get(back)).text and await env.credits() == 1


async def test_forged_webhook_and_garbage(env):
    uid, c = await env.checkout(10_000)
    data = page_data((await get(env.shop.cards.pay_url(c))).text)
    urls = {"success_url": data["successUrl"], "fail_url": data["failUrl"]}
    _, key = await open_window(env.toss.url, order_id=c.order_id, amount=10_000, **urls)
    await press(env.toss.url, key)  # authenticated, never confirmed by us
    env.toss.sim.forge_webhook(c.order_id, "DONE")
    await env.toss.sim.settle_webhooks()
    assert env.toss.sim.deliveries[-1].statuses == [200]
    assert await env.balance(uid) == 0 and await env.credits() == 0
    async with httpx.AsyncClient() as http:
        bad = await http.post(f"{env.url}/pay/toss/webhook", content=b"<xml/>")
        assert bad.status_code == 400
        assert (await http.get(f"{env.url}/pay/toss/webhook")).status_code == 405
