"""The owner's web console over real HTTP: access (links, sessions, CSRF), the pages, and
that every change goes through the chat's own use-cases (one compare-and-set, audited with
where it came from). The browser tests are in test_browser.py."""

from __future__ import annotations

import asyncio
import hashlib
import re
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from shop import console as console_module
from shop import figures
from shop.models import OrderInput
from shop.parsing import InputError
from tests.consoleenv import ADMIN, OTHER_ADMIN, ConsoleEnv, console_shop

FLASH_RE = re.compile(r'class="flash (\w+)" role="status">([^<]*)<')


@pytest.fixture
async def cenv(tmp_path: Path) -> AsyncIterator[ConsoleEnv]:
    async with console_shop(tmp_path) as env:
        yield env


async def rows(env: ConsoleEnv, sql: str, *args) -> list[dict]:
    return [dict(r) for r in await env.shop.ctx.db.fetch_all(sql, args)]


def flashes(html: str) -> list[tuple[str, str]]:
    return FLASH_RE.findall(html)


async def post(client: httpx.AsyncClient, path: str, csrf: str, **fields: str):
    response = await client.post(path, data={"csrf": csrf, **fields})
    assert response.status_code == 303, response.text
    return await client.get(response.headers["location"])


# ---- access ----------------------------------------------------------------------------


async def test_a_login_link_works_once_within_ten_minutes_and_only_for_an_admin(cenv):
    customer = await cenv.customer(501)
    assert await cenv.shop.access.login_link(customer.telegram_id) is None  # a customer's id
    link = await cenv.shop.access.login_link(ADMIN)
    assert link is not None and link.startswith(cenv.console + "/login/")
    secret = link.rsplit("/", 1)[1]
    stored = await rows(cenv, "SELECT * FROM admin_login_tokens")
    assert [r["token_hash"] for r in stored] == [hashlib.sha256(secret.encode()).hexdigest()]

    async with cenv.client() as browser:
        opened = await browser.get(link)
        assert opened.status_code == 200
        cookie = opened.headers["set-cookie"]
        assert "console_session=" in cookie
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        assert "Secure" not in cookie  # plain http here; see the https test
        assert 'http-equiv="refresh" content="0; url=/console/"' in opened.text
        dashboard = await browser.get("/console/")
        assert dashboard.status_code == 200 and "대시보드" in dashboard.text
        [session] = await rows(cenv, "SELECT * FROM admin_sessions")
        assert session["admin_id"] == ADMIN
        assert session["id_hash"] != browser.cookies["console_session"]  # only its hash

    async with cenv.client() as replay:  # the same link again: refused
        again = await replay.get(link)
        assert again.status_code == 403 and "set-cookie" not in again.headers
        assert (await replay.get("/console/")).status_code == 401

    late = await cenv.shop.access.login_link(ADMIN)
    cenv.clock.advance(minutes=10, seconds=1)
    async with cenv.client() as slow:
        assert (await slow.get(late)).status_code == 403
        assert (await slow.get(cenv.console + "/login/" + "x" * 43)).status_code == 403


async def test_nothing_of_the_console_answers_without_a_live_session(cenv):
    user = await cenv.customer(502)
    topup = await cenv.shop.topups.request_bank(user.id, 10_000, "홍길동")
    signed = await cenv.sign_in()
    real_cookie = signed.cookies["console_session"]
    [session] = await rows(cenv, "SELECT id_hash FROM admin_sessions")
    forged = (
        None,
        "forged-" + "a" * 40,
        session["id_hash"],  # someone who read the database (it only holds hashes)
        real_cookie + "x",
    )
    for value in forged:
        cookies = {} if value is None else {"console_session": value}
        async with httpx.AsyncClient(base_url=cenv.url, cookies=cookies) as stranger:
            for path in ("/console/", "/console/orders", f"/console/customers/{user.id}",
                         "/console/static/console.css", "/console/audit"):  # fmt: skip
                r = await stranger.get(path)
                assert r.status_code == 401, (path, value)
                assert "10,000" not in r.text and "홍길동" not in r.text
            r = await stranger.post(f"/console/topups/{topup.id}/approve", data={"csrf": "x"})
            assert r.status_code == 401
    assert (await cenv.shop.topups.get(topup.id)).status == "pending"

    cenv.clock.advance(minutes=59)  # idle expiry: 60 minutes of nothing
    assert (await signed.get("/console/orders")).status_code == 200
    cenv.clock.advance(minutes=59)
    assert (await signed.get("/console/orders")).status_code == 200  # it was used meanwhile
    cenv.clock.advance(minutes=61)
    assert (await signed.get("/console/orders")).status_code == 401
    await signed.aclose()


async def test_a_removed_admin_and_a_customers_session_lose_access_at_once(cenv):
    client = await cenv.sign_in(OTHER_ADMIN)
    assert (await client.get("/console/")).status_code == 200
    cenv.set_admins(ADMIN)  # OTHER_ADMIN removed from telegram.admin_ids
    assert (await client.get("/console/")).status_code == 401
    assert await cenv.shop.access.login_link(OTHER_ADMIN) is None
    await client.aclose()

    # A session row for a customer's id (planted in the database) opens nothing either.
    customer = await cenv.customer(503)
    async with cenv.shop.ctx.db.transaction() as conn:
        await conn.execute(
            "INSERT INTO admin_sessions (id_hash, admin_id, created_at, last_seen_at) "
            "VALUES (?, ?, ?, ?)",
            (hashlib.sha256(b"planted-secret-0123456789").hexdigest(), customer.telegram_id,
             cenv.shop.ctx.now_iso(), cenv.shop.ctx.now_iso()),
        )  # fmt: skip
    cookies = {"console_session": "planted-secret-0123456789"}
    async with httpx.AsyncClient(base_url=cenv.url, cookies=cookies) as planted:
        assert (await planted.get("/console/")).status_code == 401


async def test_every_change_needs_the_csrf_token_of_its_own_session(cenv):
    user = await cenv.customer(504)
    topup = await cenv.shop.topups.request_bank(user.id, 20_000, "김철수")
    me, other = await cenv.sign_in(), await cenv.sign_in(OTHER_ADMIN)
    mine, theirs = await cenv.csrf(me), await cenv.csrf(other)
    path = f"/console/topups/{topup.id}/approve"
    for data, headers in (
        ({}, {}),  # no token
        ({"csrf": ""}, {}),
        ({"csrf": theirs}, {}),  # another admin's session's token
        ({"csrf": mine}, {"origin": "https://evil.example"}),  # right token, other site
    ):
        r = await me.post(path, data=data, headers=headers)
        assert r.status_code == 403, (data, headers)
    r = await me.post(path, content=b'{"csrf": "%s"}' % mine.encode(),
                      headers={"content-type": "application/json"})  # fmt: skip
    assert r.status_code == 403
    assert (await cenv.shop.topups.get(topup.id)).status == "pending"
    page = await post(me, path, mine)
    approved = f"충전 #{topup.id} 20,000원을 승인했어요. 고객 잔액 20,000원."
    assert ("ok", approved) in flashes(page.text)
    for client in (me, other):
        await client.aclose()


async def test_under_https_the_cookie_is_secure_and_host_bound(tmp_path):
    async with console_shop(tmp_path, https=True) as env:
        link = await env.shop.access.login_link(ADMIN)
        assert link.startswith("https://console.example/console/login/")
        async with env.client() as client:
            opened = await client.get("/console/login/" + link.rsplit("/", 1)[1])
            cookie = opened.headers["set-cookie"]
            assert cookie.startswith("__Host-console=") and "Secure" in cookie
            assert "Path=/" in cookie and "Domain" not in cookie


async def test_pages_say_no_to_framing_caching_and_foreign_scripts(cenv):
    client = await cenv.sign_in()
    r = await client.get("/console/")
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert 'src="/console/static/vendor/chart.umd.min.js?v=' in r.text  # served by the shop
    assert "https://" not in re.sub(r'href="https://[^"]*"', "", r.text)  # no CDN
    js = await client.get("/console/static/vendor/chart.umd.min.js")
    assert js.status_code == 200 and "Chart.js v4" in js.text[:200]
    assert (await client.get("/console/static/../app.py")).status_code == 404
    await client.aclose()


async def test_an_id_longer_than_sqlite_holds_is_not_found_never_a_500(cenv):
    """The path's ``{id:int}`` takes any digits; past 2**63 - 1 SQLite raised OverflowError."""
    user = await cenv.customer(511, balance=10_000)
    client = await cenv.sign_in()
    csrf = await cenv.csrf(client)
    huge, top = str(2**63), str(2**63 - 1)
    for path in (f"/console/orders/{huge}", f"/console/customers/{huge}",
                 "/console/orders/99999999999999999999"):  # fmt: skip
        r = await client.get(path)
        assert r.status_code == 404 and "Traceback" not in r.text, path
    for path in (f"/console/orders/{top}", f"/console/customers/{top}"):
        assert (await client.get(path)).status_code == 404, path  # the largest id: none such
    fields = {"csrf": csrf, "confirm": "yes", "amount": "1000", "reason": "사유 적음",
              "idem": "idem-huge-1", "price": "100", "visible": "0", "panel_id": "5"}  # fmt: skip
    for path in (f"/console/topups/{huge}/approve", f"/console/topups/{huge}/reject",
                 f"/console/orders/{huge}/cancel", f"/console/orders/{huge}/refill",
                 f"/console/orders/{huge}/refund", f"/console/customers/{huge}/adjust",
                 f"/console/catalog/{huge}/price", f"/console/catalog/{huge}/visible"):  # fmt: skip
        r = await client.post(path, data=fields)
        assert r.status_code in (303, 404), (path, r.status_code)
    assert (await cenv.shop.users.get(user.id)).balance == 10_000
    await client.aclose()


# ---- one rule for chat and web ---------------------------------------------------------


async def test_approving_in_the_web_and_the_chat_at_the_same_moment_credits_once(cenv):
    user = await cenv.customer(505)
    client = await cenv.sign_in()
    csrf = await cenv.csrf(client)
    for round_ in range(5):
        topup = await cenv.shop.topups.request_bank(user.id, 10_000, f"입금{round_}")
        web, chat = await asyncio.gather(
            client.post(f"/console/topups/{topup.id}/approve", data={"csrf": csrf}),
            cenv.shop.topups.approve(topup.id, OTHER_ADMIN),  # the chat's button runs this
        )
        assert web.status_code == 303
        credits = await rows(cenv, "SELECT * FROM ledger WHERE topup_id = ?", topup.id)
        assert len(credits) == 1
        audits = await rows(cenv, "SELECT * FROM audit WHERE target = ?", f"topup:{topup.id}")
        assert len(audits) == 1 and audits[0]["source"] in ("web", "chat")
        page = await client.get("/console/topups")
        text = dict(flashes(page.text))
        if chat.decision == "done":
            assert audits[0]["source"] == "chat" and "이미 처리되었어요" in text["error"]
        else:
            assert audits[0]["source"] == "web" and "승인했어요" in text["ok"]
    assert (await cenv.shop.users.get(user.id)).balance == 50_000
    assert not any((await cenv.shop.check_ledger()).values())
    await client.aclose()


async def test_refund_of_a_review_order_from_the_web_is_once_audited_and_on_its_timeline(cenv):
    user = await cenv.customer(506, balance=50_000)
    order = await cenv.review_order(user.id, "https://instagram.com/review_me")
    client = await cenv.sign_in()
    csrf = await cenv.csrf(client)
    page = await client.get(f"/console/orders/{order.id}")
    assert "환불 사유" in page.text and "패널 주문 연결" in page.text
    refund = f"/console/orders/{order.id}/refund"
    unconfirmed = await post(client, refund, csrf, reason="패널에 없음")
    assert flashes(unconfirmed.text) == [("error", "확인란을 체크해 주세요.")]
    no_reason = await post(client, refund, csrf, confirm="yes", reason="")
    assert flashes(no_reason.text) == [("error", "사유를 두 글자 이상 적어 주세요.")]
    too_much = await post(client, refund, csrf, confirm="yes", reason="패널에 없음",
                          amount=str(order.price + 1))  # fmt: skip
    assert flashes(too_much.text) == [("error", f"환불 금액은 1원부터 {order.price:,}원까지예요.")]
    done = await post(client, refund, csrf, confirm="yes", reason="패널에 없음", amount="")
    assert ("ok", f"주문 #{order.id}을(를) {order.price:,}원 환불했어요.") in flashes(done.text)
    again = await post(client, refund, csrf, confirm="yes", reason="패널에 없음")
    assert ("error", "이미 처리되었어요 (현재 상태: 주문실패).") in flashes(again.text)
    assert (await cenv.shop.users.get(user.id)).balance == 50_000
    assert len(await rows(cenv, "SELECT * FROM ledger WHERE kind = 'refund'")) == 1
    [audit] = await rows(cenv, "SELECT * FROM audit WHERE action = 'order.refund'")
    assert (audit["actor_id"], audit["source"]) == (ADMIN, "web")
    timeline = again.text[again.text.index('<ol class="timeline">') :]
    steps = re.findall(r"<span>([^<]*)</span>", timeline)
    assert steps[:4] == ["접수됨", "접수됨 → 패널로 전송중", "패널로 전송중 → 확인중",
                         "확인중 → 주문실패"]  # fmt: skip
    assert f"주문 결제 -{order.price:,}원" in steps and f"환불 +{order.price:,}원" in steps
    assert "고객에게 알림: 확인중 안내" in steps and "고객에게 알림: 주문실패·환불" in steps
    assert "관리자 9001: order.refund" in steps
    assert "환불 사유" not in again.text  # no action left to offer
    await client.aclose()


async def test_adjustment_block_and_where_each_action_came_from(cenv):
    user = await cenv.customer(507, balance=10_000)
    client = await cenv.sign_in()
    page = await client.get(f"/console/customers/{user.id}")
    csrf = re.search(r'name="csrf" value="(\w+)"', page.text).group(1)
    idem = re.search(r'name="idem" value="([\w-]+)"', page.text).group(1)
    form = {"csrf": csrf, "idem": idem, "amount": "-3,000", "reason": "중복 충전 회수"}
    for _ in range(2):  # the same form sent twice: one adjustment
        r = await client.post(f"/console/customers/{user.id}/adjust", data=form)
        assert r.status_code == 303
    page = await client.get(f"/console/customers/{user.id}")
    assert "7,000원" in page.text and "중복 충전 회수" in page.text
    no_reason = await post(client, f"/console/customers/{user.id}/adjust", csrf,
                           idem="another-token-1", amount="+500", reason="")  # fmt: skip
    assert flashes(no_reason.text) == [("error", "사유를 두 글자 이상 적어 주세요.")]
    over = await post(client, f"/console/customers/{user.id}/adjust", csrf,
                      idem="another-token-2", amount="-9000", reason="회수")  # fmt: skip
    assert flashes(over.text) == [("error", "잔액(7,000원)보다 많이 차감할 수 없어요.")]

    blocked = await post(client, f"/console/customers/{user.id}/block", csrf, reason="사기 의심")
    assert "이 고객은 이제 주문·충전을 할 수 없어요." in blocked.text
    svc = next(s for s in await cenv.shop.catalog.all() if s.panel_id == "101")
    with pytest.raises(InputError) as refused:
        await cenv.shop.orders.quote(user.id, svc.id, OrderInput(link="https://x.com/a",
                                                                 quantity=100))  # fmt: skip
    assert refused.value.code == "customer.blocked"
    with pytest.raises(InputError):
        await cenv.shop.topups.request_bank(user.id, 10_000, "누구")
    await post(client, f"/console/customers/{user.id}/unblock", csrf, reason="확인 완료")
    await cenv.shop.topups.request_bank(user.id, 10_000, "누구")  # allowed again

    await cenv.shop.admin.set_visible(ADMIN, svc.id, False)  # the chat's path: source chat
    audit = await client.get("/console/audit")
    sources = re.findall(r'class="source src-(\w+)"', audit.text)
    # web: the sign-in, the adjustment, block, unblock; chat: the seed top-up, the link, …
    assert sources.count("web") == 4 and sources.count("chat") >= 3
    web_only = await client.get("/console/audit?source=web")
    assert set(re.findall(r'class="source src-(\w+)"', web_only.text)) == {"web"}
    assert "balance.adjust" in web_only.text and "user.block" in web_only.text
    await client.aclose()


# ---- pages -----------------------------------------------------------------------------


async def test_order_search_by_id_panel_id_link_and_customer_with_tabs_and_paging(
    cenv, monkeypatch
):
    alice = await cenv.customer(508, name="앨리스", balance=200_000)
    bob = await cenv.customer(509, name="밥", balance=200_000)
    placed = [await cenv.order(alice.id, f"https://instagram.com/alice_{n}") for n in range(3)]
    placed += [await cenv.order(bob.id, "https://www.instagram.com/p/BOB_post%_1")]
    review = await cenv.review_order(bob.id, "https://instagram.com/bob_review")
    client = await cenv.sign_in()

    async def found(**params) -> list[int]:
        r = await client.get("/console/orders", params=params)
        assert r.status_code == 200
        return [int(x) for x in re.findall(r'<a href="/console/orders/(\d+)">#', r.text)]

    first = placed[0].order
    assert await found(q=str(first.id)) == [first.id]
    assert await found(q=f"#{first.id}") == [first.id]
    assert await found(q=first.panel_order_id) == [first.id]
    assert await found(q="alice_1") == [placed[1].order.id]
    assert await found(q="BOB_post%_") == [placed[3].order.id]  # LIKE wildcards are literal
    assert await found(q="post__") == []
    assert await found(q="@user508") == [p.order.id for p in reversed(placed[:3])]
    assert await found(q="앨리스") == [p.order.id for p in reversed(placed[:3])]
    assert await found(q="509") == [review.id, placed[3].order.id]  # a Telegram id
    assert await found(tab="needs_review") == [review.id]
    assert await found(tab="needs_review", q="alice") == []
    assert await found(tab="pending") == [p.order.id for p in reversed(placed)]
    assert await found(customer=str(bob.id)) == [review.id, placed[3].order.id]
    tabs = (await client.get("/console/orders")).text
    assert "확인중 <small>1</small>" in tabs and "보류중 <small>4</small>" in tabs
    assert "주문완료 <small>" not in tabs  # finished tabs are not counted

    monkeypatch.setattr(console_module, "PAGE", 2)
    assert await found() == [review.id, placed[3].order.id]
    assert await found(page="1") == [placed[2].order.id, placed[1].order.id]
    last = await client.get("/console/orders", params={"page": "2"})
    assert 'rel="prev" href="/console/orders?page=1"' in last.text and 'rel="next"' not in last.text
    await client.aclose()


async def test_every_value_is_escaped(cenv):
    user = await cenv.customer(510, name='<script>alert("x")</script>', balance=50_000)
    await cenv.order(user.id, 'https://instagram.com/<img src=x onerror="alert(1)">')
    topup = await cenv.shop.topups.request_bank(user.id, 10_000, "<b>입금</b>")
    client = await cenv.sign_in()
    csrf = await cenv.csrf(client)
    await post(client, f"/console/topups/{topup.id}/reject", csrf, reason="<i>없음</i>")
    broadcast = await client.post("/console/broadcasts", data={
        "csrf": csrf, "text": "점검 <b>안내</b> & </script>", "confirm": "yes"})  # fmt: skip
    detail = await client.get(broadcast.headers["location"])
    assert "점검 &lt;b&gt;안내&lt;/b&gt; &amp; &lt;/script&gt;" in detail.text
    audit = (await client.get("/console/audit")).text  # what was typed, escaped once
    assert "text: 점검 &lt;b&gt;안내&lt;/b&gt; &amp; &lt;/script&gt;" in audit
    assert "&amp;lt;" not in audit and "&amp;amp;" not in audit
    for path in ("/console/orders", f"/console/customers/{user.id}", "/console/customers",
                 "/console/topups", "/console/orders/1", "/console/audit",
                 "/console/broadcasts", "/console/orders?q=%3Cscript%3E"):  # fmt: skip
        page = (await client.get(path)).text
        assert "<script>alert" not in page and "<img src=x" not in page, path
        assert "<b>입금" not in page and "<i>없음" not in page, path
    page = (await client.get("/console/orders?q=%3Cscript%3E")).text
    assert 'value="&lt;script&gt;"' in page
    await client.aclose()


async def test_dashboard_figures_profit_at_each_orders_exchange_rate(cenv):
    user = await cenv.customer(511, balance=500_000)
    first = (await cenv.order(user.id, "https://instagram.com/f1", 1000)).order
    second = (await cenv.order(user.id, "https://instagram.com/f2", 1000)).order
    third = (await cenv.order(user.id, "https://instagram.com/f3", 1000)).order
    async with cenv.shop.ctx.db.transaction() as conn:  # what polling would have recorded
        await conn.execute("UPDATE orders SET charge = '9.8', exchange_rate = '1300' WHERE id = ?",
                           (first.id,))  # fmt: skip
        await conn.execute("UPDATE orders SET charge = '0.5' WHERE id = ?", (second.id,))
    # the third has no charge yet: estimated from its panel rate (9.8 per 1000) at 1400
    report = await figures.by_day(cenv.shop.ctx)
    today = report.periods["today"]
    assert today.orders == 3 and today.sales == first.price + second.price + third.price
    assert today.revenue == today.sales and today.estimated == 1
    assert today.cost_won == 27_160  # 9.8 × 1300 + 0.5 × 1400 + 9.8 × 1400
    assert today.profit == today.revenue - 27_160
    assert today.topups == {"bank": (1, 500_000)}
    assert report.periods["30d"].profit == today.profit and len(report.days) == 30
    stats = await cenv.shop.admin.stats(ADMIN)  # the chat's /admin stats: the same figures
    assert stats.periods["today"].margin == today.profit

    client = await cenv.sign_in()
    page = await client.get("/console/")
    assert f"{today.profit:,}원" in page.text and "27,160원" in page.text
    chart = re.search(r'<script type="application/json" id="chart-data">([^<]*)</script>',
                      page.text)  # fmt: skip
    assert chart and '"profit":[0,' in chart.group(1) and str(today.profit) in chart.group(1)
    assert "1건은 패널이 아직 요금을 알려 주지 않아" in page.text
    await client.aclose()


async def test_catalog_search_visibility_price_markup_and_sync(cenv):
    client = await cenv.sign_in()
    csrf = await cenv.csrf(client)
    page = await client.get("/console/catalog", params={"q": "유튜브"})
    assert "유튜브 조회수" in page.text and "인스타 한국인 팔로워" not in page.text
    svc = next(s for s in await cenv.shop.catalog.all() if s.panel_id == "301")
    back = "/console/catalog?q=%EC%9C%A0%ED%8A%9C%EB%B8%8C"
    hidden = await post(client, f"/console/catalog/{svc.id}/visible", csrf, visible="0",
                        back=back)  # fmt: skip
    assert (await cenv.shop.catalog.get(svc.id)).visible is False
    assert f"상품 #{svc.id}을(를) 숨겼어요." in hidden.text
    assert (await client.get("/console/catalog?show=hidden")).text.count('class="muted"') == 1
    priced = await post(client, f"/console/catalog/{svc.id}/price", csrf, price="12,345",
                        back=back)  # fmt: skip
    assert "12,345원" in priced.text
    assert cenv.shop.catalog.price_per_1000(await cenv.shop.catalog.get(svc.id)) == 12_345
    bad = await post(client, "/console/catalog/markup", csrf, markup="lots")
    assert flashes(bad.text)[0][0] == "error"
    await post(client, "/console/catalog/markup", csrf, markup="60")
    assert cenv.shop.catalog.markup_percent == 60
    synced = await post(client, "/console/catalog/sync", csrf)
    assert "동기화 완료: 신규 0 · 변경 0 · 제거 0 · 전체 " in synced.text
    actions = [r["action"] for r in await rows(cenv, "SELECT action FROM audit WHERE source='web'")]
    assert actions == ["console.login", "service.visible", "service.price", "shop.markup",
                       "catalog.sync"]  # fmt: skip
    await client.aclose()


async def test_broadcast_shows_live_counts_of_sent_failed_and_left(cenv):
    for n in range(3):
        await cenv.customer(520 + n)
    client = await cenv.sign_in()
    csrf = await cenv.csrf(client)
    sent = await client.post("/console/broadcasts",
                             data={"csrf": csrf, "text": "공지", "confirm": "yes"})  # fmt: skip
    location = sent.headers["location"]
    page = await client.get(location)
    assert "3명에게 보내기 시작했어요." in page.text
    assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in page.text
    progress = await client.get(location + "/progress")
    assert progress.json() == {"queued": 3, "sent": 0, "failed": 0, "left": 3, "finished": False}
    due = [r for r in await rows(cenv, "SELECT id FROM outbox WHERE event = 'broadcast'")]
    async with cenv.shop.ctx.db.transaction() as conn:
        await conn.execute("UPDATE outbox SET status = 'sent' WHERE id = ?", (due[0]["id"],))
        await conn.execute("UPDATE outbox SET status = 'failed' WHERE id = ?", (due[1]["id"],))
    assert (await client.get(location + "/progress")).json()["left"] == 1
    async with cenv.shop.ctx.db.transaction() as conn:
        await conn.execute("UPDATE outbox SET status = 'sent' WHERE id = ?", (due[2]["id"],))
    done = await client.get(location)
    assert "모두 보냈어요." in done.text and "noscript" not in done.text
    assert (await client.get(location + "/progress")).json()["finished"] is True
    await client.aclose()


# ---- storage: the timeline is written by the database ----------------------------------


async def test_every_status_change_is_recorded_in_the_same_transaction(cenv):
    user = await cenv.customer(530, balance=50_000)
    placed = await cenv.order(user.id, "https://instagram.com/timeline")
    oid = placed.order.id
    cenv.sim.set_order(placed.order.panel_order_id, status="In progress", remains=40)
    await cenv.shop.fulfilment.poll_once()
    cenv.sim.set_order(placed.order.panel_order_id, status="Partial", remains=40)
    await cenv.shop.fulfilment.poll_once()
    events = await rows(cenv, "SELECT kind, old_status, status, panel_status, remains "
                              "FROM order_events WHERE order_id = ? ORDER BY id", oid)  # fmt: skip
    assert [(e["old_status"], e["status"]) for e in events] == [
        (None, "created"), ("created", "submitting"), ("submitting", "pending"),
        ("pending", "in_progress"), ("in_progress", "partial"),
    ]  # fmt: skip
    assert events[-1]["panel_status"] == "Partial" and events[-1]["remains"] == 40
    with pytest.raises(RuntimeError):  # a change that rolls back leaves no event behind
        async with cenv.shop.ctx.db.transaction() as conn:
            await conn.execute("UPDATE orders SET status = 'failed' WHERE id = ?", (oid,))
            raise RuntimeError
    assert len(await rows(cenv, "SELECT * FROM order_events WHERE order_id = ?", oid)) == 5


async def test_the_migration_keeps_an_existing_database_and_backfills_the_timeline(tmp_path):
    from storage.db import Database, _migrations

    path = tmp_path / "old.sqlite3"
    first = dict(_migrations())[1]
    now = "2026-11-01T00:00:00.000000+00:00"
    with sqlite3.connect(path) as raw:
        raw.executescript(first + "\nPRAGMA user_version = 1;")
        raw.execute("INSERT INTO users (telegram_id, first_name, created_at) VALUES (1, 'a', ?)",
                    (now,))  # fmt: skip
        raw.execute("INSERT INTO services (panel_id, name, category, type, raw_type, rate, "
                    "min_qty, max_qty, synced_at) VALUES ('1', 's', 'c', 'default', 'Default', "
                    "'1.0', 10, 1000, ?)", (now,))  # fmt: skip
        raw.execute("INSERT INTO orders (user_id, service_id, confirm_token, kind, link, job_key, "
                    "quantity, price, price_per_1000, rate, status, created_at, updated_at) "
                    "VALUES (1, 1, 't', 'order', 'l', 'l', 100, 500, 5000, '1.0', 'completed', "
                    "?, ?)", (now, now))  # fmt: skip
        raw.execute("INSERT INTO audit (actor_id, action, created_at) VALUES (9, 'x', ?)", (now,))
    async with Database(path) as db:
        events = await db.fetch_all("SELECT status FROM order_events ORDER BY id")
        assert [e["status"] for e in events] == ["created", "completed"]
        assert (await db.fetch_one("SELECT source FROM audit"))["source"] == "chat"
        assert (await db.fetch_one("SELECT banned_at, balance FROM users"))["balance"] == 0


# ---- in the running shop: /admin's button, admin-link, the demo's button ----------------


async def test_the_admin_menu_button_opens_the_console_served_by_the_running_shop(tmp_path):
    from tests.botenv import ADMIN_IDS, running_shop

    # The proxy in front answers for public_url; here the test plays it, going straight to
    # the HTTP face's own (free) port with the link's path.
    async with running_shop(tmp_path, web={"public_url": "http://shop.test"}) as env:
        customer = env.user(42)
        await customer.send_command("/admin")  # a customer gets no menu, no link
        await customer.wait_for("")
        assert not any(b.get("url") for m in env.emu.chat(42).transcript()
                       for b in m.buttons())  # fmt: skip
        admin = env.admin(0)
        await admin.send_command("/admin")
        menu = await admin.wait_for("관리자 메뉴")
        [button] = [b for b in menu.buttons() if "url" in b]
        assert button["text"].startswith("🖥 웹 콘솔 열기")
        assert button["url"].startswith("http://shop.test/console/login/")
        async with httpx.AsyncClient(base_url=env.serving.web.url) as browser:
            path = button["url"].removeprefix("http://shop.test")
            assert (await browser.get(path)).status_code == 200
            page = await browser.get("/console/")
            assert page.status_code == 200 and "관리자 9001" in page.text
            assert (await browser.get(path)).status_code == 403  # the link is spent
        [login] = await env.shop.ctx.db.fetch_all("SELECT * FROM audit WHERE action = ?",
                                                  ("console.login",))  # fmt: skip
        assert (login["actor_id"], login["source"]) == (ADMIN_IDS[0], "web")


async def test_admin_link_prints_a_one_time_link_for_a_shop_without_telegram(tmp_path):
    from tests.test_cli import bot_cli

    db = tmp_path / "shop.sqlite3"
    config = tmp_path / "config.toml"
    base = (
        '[provider]\nurl = "http://127.0.0.1:9/api/v2"\nkey = "k"\n'
        f'[storage]\npath = "{db}"\n[telegram]\nadmin_ids = [9001, 9002]\n'
    )
    config.write_text(base, encoding="utf-8")
    code, out, err = await bot_cli("admin-link", "--config", str(config))
    assert code == 2 and "web.public_url" in err and out == ""
    config.write_text(base + '[web]\npublic_url = "https://shop.example/"\n', encoding="utf-8")
    code, out, err = await bot_cli("admin-link", "--config", str(config), "--admin", "9002")
    assert code == 0, err
    link = out.strip()
    assert re.fullmatch(r"https://shop\.example/console/login/[\w-]{43}", link)
    code, _, err = await bot_cli("admin-link", "--config", str(config), "--admin", "1234")
    assert code == 2 and "1234 is not in telegram.admin_ids" in err

    from shop.context import ShopContext
    from shop.settings import ShopSettings
    from shop.shop import Shop
    from storage.db import Database

    async with Database(db) as database:
        shop = Shop(ShopContext(db=database, panel=None, settings=ShopSettings(
            admin_ids=(9001, 9002))))  # fmt: skip
        opened = await shop.access.open_session(link.rsplit("/", 1)[1])
        assert opened is not None and opened[1].admin_id == 9002
        assert await shop.access.open_session(link.rsplit("/", 1)[1]) is None  # once
        [issued] = await database.fetch_all("SELECT * FROM audit WHERE action = 'console.link'")
        assert issued["source"] == "cli"
