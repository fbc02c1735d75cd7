"""The admin console over a real panel's catalog (sandbox/catalog.py: 3,600 services) and
long queues, against the Bot API emulator that refuses what Telegram refuses: every page
fits, every entry's buttons are reachable, and a @username never picks a customer."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegram import InlineKeyboardMarkup

from handlers.admin import SERVICES_PER_PAGE, services_page
from sandbox.panel import PanelSimulator
from sandbox.telegram import BotApiEmulator
from shop.models import OrderInput, PlaceOutcome
from tests.botenv import ADMIN_IDS, PANEL_KEY, TOKEN, ShopEnv, running_shop

LONG_LINK = "https://instagram.com/p/" + "x" * 1990  # near the shop's 2,048 limit


def refusals(emu: BotApiEmulator) -> list[str]:
    """Every Bot API call Telegram would have refused (a no-op edit is not a refusal)."""
    return [
        f"{c.method}: {c.response['description']}"
        for c in emu.calls
        if c.status == 400 and "not modified" not in c.response["description"]
    ]


async def accepted(emu: BotApiEmulator, text: str, markup: InlineKeyboardMarkup) -> None:
    """Send a rendered page through the emulator's own checks (in process, no HTTP)."""
    params = {"chat_id": ADMIN_IDS[0], "text": text, "parse_mode": "HTML",
              "reply_markup": markup.to_dict()}  # fmt: skip
    response = await emu.handle(TOKEN, "sendMessage", params)
    assert response.status == 200, (response.payload, text[:300])


@pytest.fixture
async def big(tmp_path: Path) -> AsyncIterator[ShopEnv]:
    sim = PanelSimulator(api_key=PANEL_KEY, catalog="large", auto_advance=False)
    async with running_shop(tmp_path, sim=sim) as env:
        env.admin(0)  # the admin's chat exists before pages are sent to it
        yield env


async def _services(admin, env: ShopEnv):
    await admin.send_command("/admin")
    await admin.wait_for("관리자 메뉴")
    await admin.press("🧾 서비스 관리")
    return await admin.wait_for(r"서비스 관리")


async def test_every_services_page_fits_telegram(big: ShopEnv) -> None:
    """All 360 pages of the list and of broad searches, checked by the emulator."""
    shop, emu = big.shop, big.emu
    services = await shop.admin.find_services(ADMIN_IDS[0])
    assert len(services) == len(big.sim.services)
    prices = {s.id: shop.catalog.price_per_1000(s) for s in services}
    pages = -(-len(services) // SERVICES_PER_PAGE)
    for number in range(pages):
        await accepted(emu, *services_page(services, prices, "50", "", "-", number))
    for query in ("instagram", "팔로워", "<b>views</b> & more", "x" * 100):
        found = await shop.admin.find_services(ADMIN_IDS[0], query)
        for number in range(0, -(-len(found) // SERVICES_PER_PAGE), 7):
            await accepted(emu, *services_page(found, prices, "50", query, "abcd1234", number))
    assert refusals(emu) == []


async def test_services_search_and_every_service_reachable(big: ShopEnv) -> None:
    admin, shop = big.admin(0), big.shop
    first = await _services(admin, big)
    assert "(1/360쪽 · 3,600개)" in first.text
    assert first.button_labels()[:3] == ["🔄 지금 동기화", "📈 전체 마진 변경", "🔎 검색"]
    await admin.press("끝 ⏭", first)
    last = await admin.wait_for(r"\(360/360쪽")
    assert "다음 ▶" not in last.button_labels()

    # a service deep in the catalog, by the panel's id: hide it, from its search page
    target = sorted(await shop.catalog.all(), key=lambda s: s.id)[-1]
    await admin.press("🔎 검색", last)
    await admin.wait_for("찾을 서비스")
    await admin.send_text(target.panel_id)
    found = await admin.wait_for(r"🔎 검색: ")
    assert f"#{target.id} " in found.text and f"(패널 {target.panel_id})" in found.text
    await admin.press(f"👁 #{target.id}", found)
    hidden = await admin.wait_for(f"🚫 #{target.id}")
    assert hidden.message_id == found.message_id  # the same search page, edited
    assert not (await shop.catalog.get(target.id)).visible
    await admin.press(f"💲 가격 #{target.id}", hidden)
    await admin.wait_for("1000개당 가격")
    await admin.send_text("4900")
    await admin.wait_for("가격을 변경했어요")
    assert (await shop.catalog.get(target.id)).price_override == 4900

    # words from name and category, any case; pages of the search carry the search
    await admin.press("🔎 검색", hidden)
    await admin.wait_for("찾을 서비스")
    await admin.send_text("YOUTUBE views")
    page1 = await admin.wait_for(r"🔎 검색: .*YOUTUBE views")
    total = int(re.search(r"— ([\d,]+)개", page1.text).group(1).replace(",", ""))
    words = await shop.admin.find_services(ADMIN_IDS[0], "youtube VIEWS")
    assert total == len(words) > SERVICES_PER_PAGE
    await admin.press("다음 ▶", page1)
    page2 = await admin.wait_for(r"\(2/\d+쪽")
    assert "YOUTUBE views" in page2.text
    assert all("youtube" in f"{s.name} {s.category}".lower() for s in words)

    # #number is the shop's own number only
    assert [s.id for s in await shop.admin.find_services(ADMIN_IDS[0], f"#{target.id}")] == [
        target.id
    ]
    assert await shop.admin.find_services(ADMIN_IDS[0], "#99999999") == []
    assert refusals(big.emu) == []


async def test_long_queues_are_paged_and_every_entry_reachable(big: ShopEnv) -> None:
    shop, admin = big.shop, big.admin(0)
    # 12 orders with near-2,048-character links whose panel answer was an HTML 503 page
    cheap = [
        s for s in await shop.catalog.sellable()
        if s.type.value == "default" and s.min <= 100 and shop.catalog.price_per_1000(s) < 9000
    ]  # fmt: skip
    longest = max(cheap, key=lambda s: len(s.name))
    await big.credit(77, 2_000_000)
    user = await shop.users.by_telegram(77)
    big.sim.set_quirk("html_503", times=12)
    review_ids = []
    for i in range(12):
        quote = await shop.orders.quote(
            user.id, longest.id, OrderInput(link=f"{LONG_LINK}{i}", quantity=max(100, longest.min))
        )
        placed = await shop.orders.place(user.id, quote.token)
        assert placed.outcome == PlaceOutcome.NEEDS_REVIEW
        review_ids.append(placed.order.id)
    topups = []
    for i in range(20):
        customer = await shop.users.ensure(5000 + i, None, "고객" * 30, "ko")
        topups.append(await shop.topups.request_bank(customer.id, 10_000 + i, "김" * 30))

    await admin.send_command("/admin")
    await admin.wait_for("관리자 메뉴")
    await admin.press("🔍 확인 필요 주문")
    queue = await admin.wait_for(r"확인 필요 주문.*\(1/3쪽 · 12개\)")
    assert len(queue.text) < 4096 and LONG_LINK not in queue.text
    await admin.press("다음 ▶", queue)
    second = await admin.wait_for(r"\(2/3쪽")
    order_id = review_ids[5]
    assert f"↩️ 환불 #{order_id}" in second.button_labels()
    await admin.press(f"🔍 #{order_id}", second)
    card = await admin.wait_for(rf"확인 필요 주문 #{order_id}")
    assert f"{LONG_LINK}5" in card.text and longest.name in card.text
    await admin.press(f"↩️ 환불 #{order_id}", card)
    await admin.wait_for(r"환불하는 사유")  # a manual refund is audited with its reason
    await admin.send_text("패널에 주문 없음")
    await admin.wait_for(r"환불했어요")

    await admin.send_command("/admin")
    await admin.wait_for("관리자 메뉴")
    await admin.press("💰 대기 중인 충전")
    pending = await admin.wait_for(r"대기 중인 충전 요청.*\(1/3쪽 · 20개\)")
    await admin.press("끝 ⏭", pending)
    await admin.wait_for(r"\(3/3쪽")
    await admin.press(f"✅ 승인 #{topups[-1].id}")
    await admin.wait_for(r"승인.*처리: ")
    assert await big.balance(5019) == 10_019
    assert refusals(big.emu) == []


async def test_lookup_by_a_shared_username_asks_for_the_id(env: ShopEnv) -> None:
    """Issue 11 case 7: @kim is stored on two customers (one of them stale). The lookup
    lists both with their ids and shows no card; the numeric id picks the right one."""
    await env.credit(302, 5_000)
    old = await env.shop.users.ensure(301, "kim", "예전 김", "ko")
    new = await env.shop.users.ensure(302, "Kim", "지금 김", "ko")
    admin = env.admin(0)
    await admin.send_command("/admin")
    await admin.wait_for("관리자 메뉴")
    await admin.press("👤 고객 조회")
    await admin.wait_for("텔레그램 ID")
    await admin.send_text("@kim")
    listed = await admin.wait_for("2명이에요")
    assert "ID 301" in listed.text and "ID 302" in listed.text
    assert listed.button_labels() == []  # nothing to adjust until the id is given
    await admin.send_text("302")
    card = await admin.wait_for("잔액: ")
    assert "지금 김" in card.text and "(ID 302)" in card.text and "5,000원" in card.text
    await admin.press("± 잔액 조정", card)
    await admin.wait_for("조정할 금액")
    await admin.send_text("+1000")
    await admin.wait_for("조정 사유")
    await admin.send_text("이벤트 보상")
    preview = await admin.wait_for("조정할까요")
    assert "(ID 302)" in preview.text
    await admin.press("✅ 확인", preview)
    await admin.wait_for("잔액을 조정했어요")
    assert (await env.balance(302), await env.balance(301)) == (6_000, 0)
    assert {u.id for u in await env.shop.users.find("@KIM")} == {old.id, new.id}
    assert [u.id for u in await env.shop.users.find("301")] == [old.id]
