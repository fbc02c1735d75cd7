"""Panel faults (provider-api.md §9) through the whole shop: the ledger stays exact.

Every quirk of the simulator is switched on for good while a customer orders and the
shop polls; a /start during the fault still answers, the money adds up to the orders'
states afterwards, and ``add`` is never sent twice for one order.
"""

from __future__ import annotations

import pytest

from shop import statuses as st
from shop.models import OrderInput, PlaceOutcome
from tests.botenv import ShopEnv, order_to_card, running_shop

START = 100_000
QUIRKS = [
    "html_200",
    "html_503",
    "rate_limit_429",
    "negative_remains",
    "unknown_status_word",
    "bare_string_errors",
    "multistatus_array",
    "numbers_as_json_numbers",
    "string_order_ids",
    "cancelled_spelling",
    "lowercase_statuses",
    "raw_i18n_errors",
    "errors_4xx",
    "php_warning_prefix",
]


@pytest.fixture
async def shop_env(tmp_path):
    async with running_shop(tmp_path) as env:

        async def no_sleep(_seconds: float) -> None:  # panel retries need no real waiting
            return None

        env.runtime.panel._sleep = no_sleep
        yield env


async def assert_money_exact(env: ShopEnv, tg: int) -> None:
    """Balance = start − what the orders used; every ledger invariant holds."""
    assert all(not rows for rows in (await env.shop.check_ledger()).values())
    user = await env.shop.users.by_telegram(tg)
    assert user is not None
    orders, _ = await env.shop.orders.history(user.id, 0, 100)
    assert user.balance == START - sum(o.amount_used for o in orders)
    for o in orders:
        assert o.status in st.ALL and o.status not in (st.CREATED, st.SUBMITTING), o
        if o.status == st.FAILED:
            assert o.amount_used == 0


def assert_no_double_add(env: ShopEnv) -> None:
    links = [a.link for a in env.sim.adds()]
    assert len(links) == len(set(links)), links


async def place(env: ShopEnv, tg: int, panel_id: str, link: str, qty: int = 100):
    user = await env.shop.users.by_telegram(tg)
    assert user is not None
    svc = next(s for s in await env.shop.catalog.all() if s.panel_id == panel_id)
    q = await env.shop.orders.quote(user.id, svc.id, OrderInput(link=link, quantity=qty))
    return await env.shop.orders.place(user.id, q.token)


async def start_answers(env: ShopEnv, tg: int) -> None:
    u = env.user(tg)
    await u.send_command("/start")
    await u.wait_for("현재 잔액")


async def poll(env: ShopEnv, times: int = 1) -> None:
    for _ in range(times):
        env.clock.advance(hours=2)  # past any back-off after an outage
        await env.shop.fulfilment.poll_once()


@pytest.mark.parametrize("quirk", QUIRKS)
async def test_quirk_keeps_shop_serving_and_ledger_exact(shop_env: ShopEnv, quirk: str):
    env = shop_env
    await env.credit(1, START)
    # One order placed before the fault, so polling meets the quirk too.
    before = await place(env, 1, "201", "https://instagram.com/p/before")
    assert before.outcome == PlaceOutcome.PLACED
    env.sim.set_quirk(quirk)
    during = await place(env, 1, "101", "https://instagram.com/during")
    assert during.outcome in (
        PlaceOutcome.PLACED,
        PlaceOutcome.FAILED,
        PlaceOutcome.NEEDS_REVIEW,
    ), during
    await start_answers(env, 1)  # the chat keeps answering during the fault
    await start_answers(env, 2)
    for order in (before, during):
        if order.order is not None and order.order.panel_order_id:
            env.sim.set_order(order.order.panel_order_id, status="Partial", remains=40)
    await poll(env, 3)
    await assert_money_exact(env, 1)
    assert_no_double_add(env)
    env.sim.clear_quirks()
    await poll(env, 2)  # the fault is over: everything with a panel id settles
    await assert_money_exact(env, 1)
    assert_no_double_add(env)
    user = await env.shop.users.by_telegram(1)
    assert user is not None
    orders, _ = await env.shop.orders.history(user.id, 0, 100)
    for o in orders:
        if o.panel_order_id:
            assert o.status == st.PARTIAL and o.refunded == o.price * 40 // o.quantity, o
        else:
            assert o.status in (st.FAILED, st.NEEDS_REVIEW), o


async def test_negative_remains_never_refund_more_than_paid(shop_env: ShopEnv):
    env = shop_env
    await env.credit(1, START)
    placed = await place(env, 1, "101", "https://instagram.com/neg")
    env.sim.set_order(placed.order.panel_order_id, status="Partial", remains=-5)
    await poll(env)
    env.sim.set_order(placed.order.panel_order_id, status="Partial", remains=500)
    await poll(env)
    order = await env.shop.orders.get_for_user(placed.order.user_id, placed.order.id)
    assert order is not None and 0 <= order.refunded <= order.price
    await assert_money_exact(env, 1)


async def test_not_enough_funds_refunds_in_full_and_shop_keeps_serving(shop_env: ShopEnv):
    env = shop_env
    await env.credit(1, START)
    env.sim.set_balance("0")
    result = await place(env, 1, "101", "https://instagram.com/funds")
    assert result.outcome == PlaceOutcome.FAILED
    assert await env.balance(1) == START
    await start_answers(env, 1)
    await assert_money_exact(env, 1)
    env.sim.set_balance("100")
    again = await place(env, 1, "101", "https://instagram.com/funds")
    assert again.outcome == PlaceOutcome.PLACED  # the failed job does not block a retry
    await assert_money_exact(env, 1)


async def test_add_timeout_is_never_followed_by_a_second_add(shop_env: ShopEnv):
    env = shop_env
    env.runtime.panel._http.timeout = 0.3
    await env.credit(1, START)
    env.sim.set_quirk("slow_add", times=1, value=3.0)
    result = await place(env, 1, "101", "https://instagram.com/slow")
    assert result.outcome == PlaceOutcome.NEEDS_REVIEW
    assert await env.balance(1) == START - result.order.price  # the debit waits for review
    await env.shop.orders.recover()
    await poll(env, 2)
    env.sim.release_slow()
    assert len(env.sim.adds(link="https://instagram.com/slow")) == 1
    assert env.sim.orders_created() == 1  # it exists upstream: only a human may attach it
    await start_answers(env, 1)
    await assert_money_exact(env, 1)


async def test_order_through_chat_during_panel_outage(shop_env: ShopEnv):
    """The whole chat flow while the panel serves HTML: a clear answer, money exact."""
    env = shop_env
    await env.credit(3, START)
    u = env.user(3)
    env.sim.set_quirk("html_503")
    await order_to_card(u, "https://instagram.com/outage")
    await u.press("✅ 확인")
    msg = await u.wait_for(r"확인하고 있어요|처리되지 못했어요")
    assert "주문완료" not in msg.text
    (order,) = (await env.shop.orders.history((await env.shop.users.by_telegram(3)).id, 0))[0]
    assert order.status in (st.NEEDS_REVIEW, st.FAILED) and f"#{order.id}" in msg.text
    await start_answers(env, 3)
    await assert_money_exact(env, 3)
    assert_no_double_add(env)


@pytest.mark.parametrize("quirk", ["raw_i18n_errors", "errors_4xx", "numbers_as_json_numbers"])
async def test_funds_refusal_in_any_spelling_is_a_clean_failure(shop_env: ShopEnv, quirk: str):
    """An i18n key or a 4xx status is still a definite "no": refund at once, admins told."""
    env = shop_env
    await env.credit(1, START)
    env.sim.set_balance("0")
    env.sim.set_quirk(quirk)
    result = await place(env, 1, "101", "https://instagram.com/refused")
    assert result.outcome == PlaceOutcome.FAILED, result
    assert await env.balance(1) == START
    alerts = await env.shop.ctx.db.fetch_all(
        "SELECT * FROM outbox WHERE event = 'admin_panel_funds'"
    )
    assert alerts, "admins were not told the panel is out of funds"
    await assert_money_exact(env, 1)
