"""The demo page in a real headless Chromium: the whole story a newcomer would click through.

Top-up request as the customer → approval in the admin's chat → an order placed by clicking
and typing → the completion message pushed by the simulator. Ends with a screenshot
(docs/demo.png when run by scripts/screenshots.sh).

Uses the Debian ``chromium`` (scripts/setup-browser.sh installs it); Playwright's own browser
download is not used. A missing browser is a failure, not a skip: CI must exercise this.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, async_playwright, expect

from bot.demo import DemoHandle, start_demo

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


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[DemoHandle]:
    handle = await start_demo("127.0.0.1", 0, str(tmp_path / "demo-data"), speed=DEMO_SPEED)
    try:
        yield handle
    finally:
        await handle.stop()


@pytest.fixture
def chromium_path() -> str:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} not found: the browser test needs the Debian chromium package. "
            "Run scripts/setup-browser.sh (scripts/test.sh does it for you)."
        )
    return str(CHROMIUM)


@pytest.fixture
async def browser(chromium_path: str) -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
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
    await see(page, re.compile(r"충전 요청 #\d+이 접수되었어요"))

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
    await see(page, re.compile(r"주문이 접수되었어요! 주문번호는 #\d+"))

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
