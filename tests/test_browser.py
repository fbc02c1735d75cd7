"""Pages in a real headless Chromium, one browser for the whole module.

The demo page: the whole story a newcomer would click through (top-up request as the
customer → approval in the admin's chat → an order placed by clicking and typing → the
completion message pushed by the simulator), ending with a screenshot.

The owner's web console, served by the demo's shop: sign in with a one-time link, approve a
top-up, refund an order under review, find an order by its link, the charts drawn; the demo
page's console button; the same work with JavaScript off. Screenshots of the dashboard and
the orders page (docs/demo.png, docs/console-*.png when run by scripts/screenshots.sh).

Uses the Debian ``chromium`` (scripts/setup-browser.sh installs it); Playwright's own browser
download is not used. A missing browser is a failure, not a skip: CI must exercise this.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Locator, Page, async_playwright, expect

from bot.demo import DemoHandle, start_demo
from shop.models import OrderInput

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PHONE = {"width": 420, "height": 860}
WAIT_MS = 10_000  # one bot reply over real HTTP; generous for a loaded CI machine
# A fast simulator: the order goes through its stages in ~2 s, the scheduler polls every 3 s.
DEMO_SPEED = 0.4
COMPLETION_MS = 30_000


# One browser (and one console demo) for the whole module: every test runs on its loop.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module")
async def demo(tmp_path: Path) -> AsyncIterator[DemoHandle]:
    handle = await start_demo("127.0.0.1", 0, str(tmp_path / "demo-data"), speed=DEMO_SPEED)
    try:
        yield handle
    finally:
        await handle.stop()


@pytest.fixture(scope="module")
def chromium_path() -> str:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} not found: the browser test needs the Debian chromium package. "
            "Run scripts/setup-browser.sh (scripts/test.sh does it for you)."
        )
    return str(CHROMIUM)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser(chromium_path: str) -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest_asyncio.fixture(loop_scope="module")
async def page(browser: Browser, demo: DemoHandle) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport=PHONE, locale="ko-KR", device_scale_factor=1)
    context.set_default_timeout(WAIT_MS)
    try:
        yield await context.new_page()
    finally:
        await context.close()


def chat(page: Page) -> Locator:
    return page.locator("#messages")


async def type_and_send(page: Page, text: str) -> None:
    await page.locator("#input").fill(text)
    await page.locator("#input").press("Enter")
    # our own bubble appears once the emulator accepted the message
    await expect(chat(page).locator(".msg.me").last).to_contain_text(text, timeout=WAIT_MS)


async def press_key(page: Page, label: str) -> None:
    """A reply-keyboard button above the input."""
    await page.locator("#keyboard").get_by_role("button", name=label, exact=True).click()


async def press_inline(page: Page, label: str | re.Pattern[str]) -> None:
    """The newest inline button with that label (older menus may still show the same one)."""
    await chat(page).locator(".inline-kb").get_by_role("button", name=label).last.click()


async def switch_to(page: Page, name: str) -> None:
    await page.locator("#switch").get_by_role("tab", name=name).click()
    await expect(page.locator("#switch").get_by_role("tab", name=name)).to_have_attribute(
        "aria-selected", "true"
    )


async def see(page: Page, text: str | re.Pattern[str], within_ms: int = WAIT_MS) -> None:
    await expect(chat(page)).to_contain_text(text, timeout=within_ms)


async def test_top_up_approve_order_and_completion_in_a_real_browser(
    page: Page, demo: DemoHandle, screenshot_path
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(demo.url)
    await expect(page.locator("#switch [aria-selected=true]")).to_contain_text("데모 고객")

    # the customer starts and asks for a 20,000원 bank top-up
    await type_and_send(page, "/start")
    await see(page, "50,000원")
    await press_key(page, "💳 잔액충전")
    await see(page, "충전 방법을 선택해 주세요")
    await press_inline(page, "🏦 무통장입금")
    await see(page, "충전하실 금액을 입력해 주세요")
    await type_and_send(page, "20000")
    await see(page, "입금하실 분의 성함")
    await type_and_send(page, "홍길동")
    await see(page, re.compile(r"충전 요청 #\d+이\(가\) 접수되었어요"))

    # the admin approves it from the notice in their own chat
    await switch_to(page, "데모 관리자")
    notice = chat(page).locator(".msg", has_text="입금자: 홍길동")
    await expect(notice).to_contain_text("20,000원")
    await notice.get_by_role("button", name="승인", exact=True).click()
    await expect(page.locator("#toasts")).to_contain_text("승인했어요")

    # back in the customer's chat: the balance notice, then an order by buttons and typing
    await switch_to(page, "데모 고객")
    await see(page, "20,000원 충전이 완료됐어요! 현재 잔액은 70,000원이에요.")
    await press_key(page, "🛒 주문하기")
    await see(page, "플랫폼을 선택해 주세요")
    await press_inline(page, re.compile(r"^📸 인스타그램"))
    await see(page, "카테고리를 선택해 주세요")
    await press_inline(page, "인스타그램 한국인 팔로워")
    await press_inline(page, re.compile(r"^#\d+ 인스타 한국인 팔로워"))
    await see(page, "1000개당 20,580원")
    await press_inline(page, "🛒 주문하기")
    await see(page, "링크")
    await type_and_send(page, "https://instagram.com/demo_shop")
    await see(page, "수량")
    await type_and_send(page, "1,000개")
    await see(page, "주문 확인")
    await expect(chat(page).locator(".msg.bot").last).to_contain_text("70,000원 → 49,420원")
    await press_inline(page, "✅ 확인")
    await see(page, re.compile(r"주문이 접수되었어요! \(주문번호 #\d+\)"))

    # the simulator advances the order; the scheduler pushes the outcome (first order: 완료)
    await see(page, re.compile(r"작업이 완료됐어요|일부만 진행됐어요"), within_ms=COMPLETION_MS)
    await expect(chat(page).locator(".msg.bot").last).to_contain_text("1,000개 모두 전달됐어요")

    await page.screenshot(path=str(screenshot_path("demo.png")))
    assert errors == [], f"JavaScript errors on the page: {errors}"


def kakao(page: Page) -> Locator:
    return page.locator("#kakao")


async def kakao_see(page: Page, text: str | re.Pattern[str], within_ms: int = WAIT_MS) -> None:
    await expect(page.locator("#k-messages")).to_contain_text(text, timeout=within_ms)


async def kakao_say(page: Page, text: str) -> None:
    await page.locator("#k-input").fill(text)
    await page.locator("#k-input").press("Enter")
    await expect(page.locator("#k-messages .krow.me").last).to_contain_text(text)


async def kakao_tap(page: Page, label: str | re.Pattern[str]) -> None:
    """The newest control with that label: a quick-reply chip, a card button or list item."""
    await kakao(page).get_by_role("button", name=label).last.click()


async def test_kakao_chat_orders_and_gets_the_admins_approval(
    page: Page, demo: DemoHandle, screenshot_path
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.set_viewport_size({"width": 980, "height": 900})  # both phones side by side
    await page.goto(demo.url)
    await kakao_see(page, "환영합니다")
    await kakao_see(page, "50,000원")

    # a bank top-up requested on KakaoTalk …
    await kakao_tap(page, "💳 잔액충전")
    await kakao_tap(page, re.compile("무통장"))
    await kakao_say(page, "30000")
    await kakao_say(page, "김카카오")
    await kakao_see(page, re.compile(r"충전 요청 #\d+"))
    # … approved by the admin in the Telegram chat, and the news reaches KakaoTalk
    await switch_to(page, "데모 관리자")
    notice = chat(page).locator(".msg", has_text="입금자: 김카카오")
    await expect(notice).to_contain_text("kakao #")
    await notice.get_by_role("button", name="승인", exact=True).click()
    await kakao_see(page, "30,000원 충전이 완료됐어요! 현재 잔액은 80,000원이에요.")

    # an order by chips, cards and typing (a pushed message has no chips: type 메뉴)
    await kakao_say(page, "메뉴")
    await kakao_tap(page, "🛒 주문하기")
    await kakao_see(page, "플랫폼")
    await kakao_say(page, "#1")
    await kakao_tap(page, "🛒 주문하기")
    await kakao_see(page, "링크")
    await kakao_say(page, "https://instagram.com/kakao_demo")
    await kakao_say(page, "1,000개")
    await kakao_see(page, "80,000원 → 59,420원")
    await kakao_tap(page, "✅ 확인")
    await kakao_see(page, re.compile(r"주문이 접수되었어요|주문을 접수했어요"))
    await kakao(page).screenshot(path=str(screenshot_path("demo-kakao.png")))
    assert errors == [], f"JavaScript errors on the page: {errors}"


# ---- the owner's web console ---------------------------------------------------------------

DESKTOP = {"width": 1280, "height": 900}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def console_demo(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DemoHandle]:
    """A demo shop with a month of orders, a few customers on both fronts, a pending
    transfer and an order under review (the console's pages need something to show)."""
    folder = tmp_path_factory.mktemp("console-demo")
    handle = await start_demo("127.0.0.1", 0, str(folder / "demo-data"), speed=DEMO_SPEED)
    try:
        await _a_month_of_business(handle)
        yield handle
    finally:
        await handle.stop()


async def _a_month_of_business(demo: DemoHandle) -> None:
    """Orders placed through the shop's use-cases, then dated back over 30 days and finished
    with the panel's charge (as polling would have), so the charts have a month to draw."""
    shop = demo.runtime.shop
    catalog = {s.panel_id: s for s in await shop.catalog.all()}
    kinds = [
        (catalog["101"], "https://instagram.com/p/"),
        (catalog["201"], "https://instagram.com/p/"),
        (catalog["301"], "https://youtu.be/"),
        (catalog["103"], "https://instagram.com/"),
    ]
    names = ["김민지", "이서준", "박지훈", "최수아"]
    people = []
    for n, name in enumerate(names):
        user = await shop.users.ensure(2001 + n, f"shop_fan{n}", name, "ko")
        topup = await shop.topups.request_bank(user.id, 1_000_000, name)
        await shop.topups.approve(topup.id, ADMIN_ID)
        people.append(user)
    kakao = await shop.users.ensure_front("kakao", "kakao-user-7", "카카오 고객", "ko")
    people.append(kakao)
    topup = await shop.topups.request_bank(kakao.id, 300_000, "카카오 고객")
    await shop.topups.approve(topup.id, ADMIN_ID)
    placed = []
    for day in range(29, 0, -1):
        for k in range(1 + (day * 7) % 4):
            user = people[(day + k) % len(people)]
            svc, site = kinds[(day * 3 + k) % len(kinds)]
            quantity = max(svc.min, 100 * (1 + k))
            inp = OrderInput(link=f"{site}day{day}_{k}", quantity=quantity)
            quote = await shop.orders.quote(user.id, svc.id, inp)
            result = await shop.orders.place(user.id, quote.token)
            placed.append((result.order.id, day, k, svc.rate * quantity / 1000))
    async with shop.ctx.db.transaction() as conn:
        for order_id, day, k, cost in placed:
            when = (shop.ctx.now() - timedelta(days=day, hours=k)).isoformat()
            charge = str(cost)  # what the panel charged at its rate
            await conn.execute(
                "UPDATE orders SET status = 'completed', charge = ?, remains = 0, "
                "delivered = quantity, created_at = ?, updated_at = ?, finished_at = ? "
                "WHERE id = ?",
                (charge, when, when, when, order_id),
            )


ADMIN_ID = 9001  # bot.demo.ADMIN


async def _console_page(browser: Browser, demo: DemoHandle, **options) -> Page:
    """A fresh browser profile signed in with a real one-time link."""
    context = await browser.new_context(locale="ko-KR", **({"viewport": PHONE} | options))
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    link = await demo.runtime.shop.access.login_link(ADMIN_ID)
    await page.goto(link)
    await page.wait_for_url(re.compile(r"/console/$"))  # the login page moves on by itself
    await expect(page.locator("h1")).to_have_text("대시보드")
    return page


async def _close(page: Page) -> None:
    await page.context.close()


async def test_console_approves_a_transfer_and_refunds_an_order_under_review(
    browser: Browser, console_demo: DemoHandle
) -> None:
    shop = console_demo.runtime.shop
    user = await shop.users.ensure(2101, None, "이체 고객", "ko")
    topup = await shop.topups.request_bank(user.id, 30_000, "홍<b>길동</b>")
    await _top_up(shop, user.id, 50_000)
    console_demo.sim.set_quirk("html_503", times=1)
    svc = next(s for s in await shop.catalog.all() if s.panel_id == "101")
    quote = await shop.orders.quote(user.id, svc.id, OrderInput(link="https://instagram.com/r",
                                                                  quantity=100))  # fmt: skip
    review = (await shop.orders.place(user.id, quote.token)).order
    assert review.status == "needs_review"

    page = await _console_page(browser, console_demo)
    await page.get_by_role("link", name="입금 확인 대기").click()
    row = page.locator(f"#topup-{topup.id}")
    await expect(row).to_contain_text("홍<b>길동</b>")  # shown as typed, not as markup
    await row.get_by_role("button", name="승인").click()
    await expect(page.locator(".flash.ok")).to_contain_text(f"충전 #{topup.id} 30,000원을 승인")
    await expect(page.locator(f"#topup-{topup.id}")).to_have_count(0)
    assert (await shop.topups.get(topup.id)).status == "approved"

    await page.get_by_role("link", name="주문", exact=True).click()
    await page.get_by_role("link", name=re.compile(r"^확인중")).click()
    await page.get_by_role("link", name=f"#{review.id}").click()
    await expect(page.locator("#order-status")).to_have_text("확인중")
    await page.get_by_label("환불 사유").fill("패널에 주문이 없음")
    await page.get_by_role("button", name="환불", exact=True).click()  # the box is not ticked
    await expect(page.locator("#order-status")).to_have_text("확인중")
    await page.get_by_label(re.compile("환불합니다")).check()
    await page.get_by_role("button", name="환불", exact=True).click()
    await expect(page.locator(".flash.ok")).to_contain_text(f"주문 #{review.id}을(를) 2,058원 환불")
    await expect(page.locator("#order-status")).to_have_text("주문실패")
    await expect(page.locator("ol.timeline")).to_contain_text("확인중 → 주문실패")
    assert (await shop.users.get(user.id)).balance == 50_000 + 30_000
    await _close(page)


async def _top_up(shop, user_id: int, amount: int) -> None:
    topup = await shop.topups.request_bank(user_id, amount, "충전")
    await shop.topups.approve(topup.id, ADMIN_ID)


async def test_console_finds_an_order_by_its_link(
    browser: Browser, console_demo: DemoHandle, screenshot_path
) -> None:
    shop = console_demo.runtime.shop
    user = await shop.users.ensure(2102, "finder", "링크 고객", "ko")
    await _top_up(shop, user.id, 50_000)
    svc = next(s for s in await shop.catalog.all() if s.panel_id == "101")
    quote = await shop.orders.quote(
        user.id, svc.id, OrderInput(link="https://www.instagram.com/p/Cx_Find-Me_42/", quantity=200)
    )
    order = (await shop.orders.place(user.id, quote.token)).order
    page = await _console_page(browser, console_demo, viewport=DESKTOP)
    await page.get_by_role("link", name="주문", exact=True).click()
    await page.get_by_role("searchbox").fill("find-me_4")
    await page.get_by_role("searchbox").press("Enter")
    rows = page.locator("table.orders tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("Cx_Find-Me_42")
    await rows.first.get_by_role("link", name=f"#{order.id}").click()
    await expect(page.locator("h1")).to_have_text(f"주문 #{order.id}")
    await page.get_by_role("link", name="주문", exact=True).click()
    await expect(page.locator("table.orders tbody tr").first).to_be_visible()
    await page.screenshot(path=str(screenshot_path("console-orders.png")))
    await _close(page)


async def test_the_demo_page_opens_the_console_already_signed_in(
    browser: Browser, console_demo: DemoHandle
) -> None:
    context = await browser.new_context(viewport=PHONE, locale="ko-KR")
    context.set_default_timeout(WAIT_MS)
    page = await context.new_page()
    await page.goto(console_demo.url)
    async with context.expect_page() as opened:
        await page.get_by_role("link", name="🖥 관리자 콘솔").click()
    console = await opened.value
    await console.wait_for_url(re.compile(r"/console/$"))
    await expect(console.locator("h1")).to_have_text("대시보드")
    await expect(console.locator("header .who")).to_have_text("관리자 9001")
    await context.close()


async def test_the_console_works_with_javascript_off(
    browser: Browser, console_demo: DemoHandle
) -> None:
    shop = console_demo.runtime.shop
    user = await shop.users.ensure(2103, None, "무스크립트", "ko")
    topup = await shop.topups.request_bank(user.id, 12_000, "무스크립트")
    page = await _console_page(browser, console_demo, java_script_enabled=False)
    await page.get_by_role("link", name="충전", exact=True).click()
    await page.locator(f"#topup-{topup.id}").get_by_role("button", name="승인").click()
    await expect(page.locator(".flash.ok")).to_contain_text("12,000원을 승인")
    await page.get_by_role("link", name="고객", exact=True).click()
    await page.get_by_role("searchbox").fill("무스크립트")
    await page.get_by_role("searchbox").press("Enter")
    await page.get_by_role("link", name="무스크립트").click()
    await page.get_by_label("금액 (+ 지급 / − 차감)").fill("-2000")
    await page.get_by_label("사유", exact=True).first.fill("수수료 정정")
    await page.get_by_role("button", name="조정").click()
    await expect(page.locator(".flash.ok")).to_contain_text("현재 잔액 10,000원")
    await page.get_by_role("button", name="English").click()
    await expect(page.locator(".flash, h1").last).to_contain_text("Customer")
    await _close(page)


async def test_the_console_never_scrolls_sideways_on_a_phone(
    browser: Browser, console_demo: DemoHandle
) -> None:
    """Wide tables scroll inside their own box; nothing widens the page itself: not the
    catalog's visually hidden labels, not a long unbroken customer name or depositor."""
    shop = console_demo.runtime.shop
    name = "W" * 64  # Telegram's longest first name, without a space to wrap at
    user = await shop.users.ensure(2104, None, name, "ko")
    await _top_up(shop, user.id, 50_000)
    await shop.topups.request_bank(user.id, 10_000, "D" * 30)  # the longest depositor
    svc = next(s for s in await shop.catalog.all() if s.panel_id == "101")
    quote = await shop.orders.quote(user.id, svc.id, OrderInput(
        link="https://instagram.com/p/" + "x" * 200, quantity=100))  # fmt: skip
    order = (await shop.orders.place(user.id, quote.token)).order
    phone = {"width": 390, "height": 844}
    page = await _console_page(browser, console_demo, viewport=phone)
    origin = page.url.split("/console/")[0]
    for path in ("/console/catalog", f"/console/orders/{order.id}", "/console/topups",
                 f"/console/customers/{user.id}", "/console/orders"):  # fmt: skip
        await page.goto(origin + path)
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= phone["width"], (path, width)
    await _close(page)


# Last: by now the other tests left orders in more states for the screenshot.
async def test_console_dashboard_draws_its_charts_from_the_shops_own_copy(
    browser: Browser, console_demo: DemoHandle, screenshot_path
) -> None:
    errors: list[str] = []
    page = await _console_page(browser, console_demo, viewport=DESKTOP)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    await page.reload()
    await expect(page.locator("body")).to_have_attribute("data-charts", "drawn")
    drawn = await page.evaluate(
        """() => ["chart-daily", "chart-status"].map((id) => {
            const chart = Chart.getChart(id);
            const canvas = document.getElementById(id);
            const pixels = canvas.getContext("2d")
                .getImageData(0, 0, canvas.width, canvas.height).data;
            let painted = 0;
            for (let i = 3; i < pixels.length; i += 4) { if (pixels[i] > 0) painted++; }
            return { type: chart && chart.config.type, points: chart && chart.data.labels.length,
                     painted };
        })"""
    )
    assert drawn[0]["points"] == 30 and drawn[0]["painted"] > 5_000, drawn
    assert drawn[1]["type"] == "doughnut" and drawn[1]["painted"] > 5_000, drawn
    origin = console_demo.web_server.url
    assert requests and all(url.startswith(origin) for url in requests), requests
    assert errors == [], errors
    await page.screenshot(path=str(screenshot_path("console-dashboard.png")), full_page=True)
    await _close(page)
