"""Card top-up in a real Chromium, through the demo: the chat's 💳 카드결제 button opens the
pay page in a new tab, its pay button loads the (stand-in) Toss SDK, which opens the
payment window; paying there comes back to 충전 완료 with the new balance; the chat is
told once, and a reload credits nothing more."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from bot.demo import DemoHandle
from tests.test_browser import (  # noqa: F401 - fixtures
    WAIT_MS,
    browser,
    chat,
    chromium_path,
    demo,
    page,
    press_inline,
    press_key,
    see,
    type_and_send,
)

# test_browser's fixtures share one Chromium per module on the module's event loop.
pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_card_top_up_from_the_chat_button_to_paid(page: Page, demo: DemoHandle) -> None:  # noqa: F811
    errors: list[str] = []
    page.context.on("weberror", lambda e: errors.append(str(e.error)))
    await page.goto(demo.url)
    await type_and_send(page, "/start")
    await see(page, "50,000원")
    await press_key(page, "💳 잔액충전")
    await see(page, "충전 방법을 선택해 주세요")
    await press_inline(page, "💳 카드결제")
    await see(page, "카드로 충전하실 금액")
    await type_and_send(page, "30000")
    await see(page, "카드 결제를 준비했어요")

    # The URL button opens the pay page in a new tab, as a phone's browser would.
    async with page.context.expect_page() as opened:
        await chat(page).locator(".inline-kb a", has_text="30,000원 결제하기").last.click()
    pay = await opened.value
    await expect(pay.locator("#amount")).to_have_text("30,000원")
    await expect(pay.locator("#pay")).to_be_enabled()
    await pay.locator("#pay").click()
    # The stand-in's payment window (what Toss's SDK opens), then back to our success URL.
    await pay.wait_for_url("**/window?**", timeout=WAIT_MS)
    await expect(pay.locator("#amount")).to_have_text("30,000원")
    await pay.locator("#pay").click()
    await expect(pay.locator("#result")).to_contain_text("충전 완료")
    await expect(pay.locator("#balance")).to_have_text("현재 잔액: 80,000원")
    await pay.reload()  # the success URL opened again: no second credit
    await expect(pay.locator("#balance")).to_have_text("현재 잔액: 80,000원")

    # The chat got the news (the outbox job sends it within a second or two).
    await see(page, "30,000원 충전이 완료됐어요! 현재 잔액은 80,000원이에요.")
    credits = await demo.runtime.db.fetch_all(
        "SELECT amount FROM ledger WHERE idem_key LIKE 'card:%'"
    )
    assert [r["amount"] for r in credits] == [30_000]
    assert errors == [], errors
