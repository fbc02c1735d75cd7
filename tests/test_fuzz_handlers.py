"""Hypothesis-driven random update sequences against the real bot.

One shop for the whole test; every example is a new customer (with balance) sending a
random mix of texts, commands, stickers, photos and presses of random callback data.
No exception may escape a handler, and without a valid confirmation nobody is charged.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chat.i18n import t
from sandbox.telegram import FakeUser
from tests.botenv import ShopEnv, running_shop

BALANCE = 50_000
MENU = [t(lg, f"menu.{k}") for lg in ("ko", "en") for k in
        ("order", "topup", "orders", "account", "faq", "terms", "support")]  # fmt: skip
COMMANDS = ["/start", "/order", "/cancel", "/balance", "/orders", "/topup", "/help", "/admin"]

numbers = st.integers(-(10**12), 10**12)
texts = st.one_of(
    st.sampled_from(MENU),
    numbers.map(lambda n: f"{n:,}"),
    numbers.map(lambda n: f"{n}개"),
    st.sampled_from(
        [
            "https://instagram.com/someone",
            "https://www.instagram.com/p/abc/?igshid=x",
            "javascript:alert(1)",
            "<b>bold</b> <a href='x'>x</a> & &amp; <script>",
            "x" * 5000,
            "😀👍🏽🇰🇷" * 50,
            "@user.name",
            "2만원",
            "홍길동",
            "",
            " ",
            "\n\n",
            "2099-12-31",
            "팔로워",
            "#1",
            "youtube views",
        ]
    ),
    st.text(max_size=80),
)
ids = st.one_of(st.integers(0, 12), st.integers(0, 10**9)).map(str)  # real ids too
garbage = st.text(min_size=1, max_size=64).filter(lambda s: len(s.encode()) <= 64)
callbacks = st.one_of(
    st.builds("o:ok:{}".format, st.text("abcdefghijklmnopqrstuvwxyz0123456789_-", max_size=20)),
    st.builds("o:svc:{}".format, ids),
    st.builds("o:cat:{}".format, ids),
    st.builds("o:buy:{}".format, ids),
    st.builds("c:s:{}".format, ids),
    st.builds("c:d:{}:{}".format, ids, ids),
    st.builds("c:C:{}:{}".format, st.text("0123456789abcdef", max_size=8), ids),
    st.builds("c:P:{}:{}".format, st.sampled_from(["ig", "yt", "etc", "zz"]), ids),
    st.builds("c:{}:{}".format, st.sampled_from("pq"), ids),
    st.builds("h:a:{}".format, ids),
    st.sampled_from(["o:drip:1", "o:int:30", "o:dly:10", "o:noexp", "m:order", "m:faq"]),
    st.sampled_from(["o:new", "o:back", "o:cancel", "t:menu", "t:bank", "t:stars", "t:done"]),
    st.builds("h:{}:{}".format, st.sampled_from("opcfr"), ids),
    st.builds("a:tp:ok:{}".format, ids),
    st.builds("a:rv:ref:{}".format, ids),
    st.builds("t:wd:{}".format, ids),
    garbage,
)
actions = st.one_of(
    st.tuples(st.just("text"), texts),
    st.tuples(st.just("command"), st.sampled_from(COMMANDS)),
    st.tuples(st.just("sticker"), st.just("")),
    st.tuples(st.just("photo"), st.one_of(st.none(), texts)),
    st.tuples(st.just("press"), callbacks),
    st.tuples(st.just("confirm_own"), st.just("")),  # the customer's own, valid card
)


async def play(env: ShopEnv, tg: int, seq: list[tuple[str, Any]]) -> None:
    await env.credit(tg, BALANCE)
    u = env.user(tg)
    await u.send_command("/start")
    anchor = await u.wait_for("현재 잔액")
    confirms = 0
    for kind, value in seq:
        if kind == "text":
            await u.send_text(value or ".")
        elif kind == "command":
            await u.send_command(value)
        elif kind == "sticker":
            await u.send_sticker()
        elif kind == "photo":
            await u.send_photo(value)
        elif kind == "press":
            await u.press_data(value, anchor)
        else:
            confirms += await press_own_confirm(u)
    # One customer's updates run in order: the answer to this one means all were handled.
    await u.send_command("/balance")
    await u.wait_for(r"잔액", timeout=10)
    user = await env.shop.users.by_telegram(tg)
    assert user is not None
    orders, count = await env.shop.orders.history(user.id, 0, 100)
    # Money moves only through a confirmation of the customer's own quote.
    assert count <= confirms
    assert user.balance == BALANCE - sum(o.amount_used for o in orders)
    assert not any("일시적인 오류" in m.text for m in u.bot_messages())


async def press_own_confirm(u: FakeUser) -> int:
    """Press the real o:ok button of the newest confirmation card, if there is one."""
    for msg in reversed(u.bot_messages()):
        for b in msg.buttons():
            if b.get("callback_data", "").startswith("o:ok:"):
                await u.press_data(b["callback_data"], msg)
                return 1
    return 0


def test_random_update_sequences_never_crash_or_charge(tmp_path, caplog):
    caplog.set_level(logging.ERROR)
    loop = asyncio.new_event_loop()
    shop_cm = running_shop(tmp_path)
    env = loop.run_until_complete(shop_cm.__aenter__())
    users = itertools.count(100_000)
    try:

        @settings(
            max_examples=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(st.lists(actions, min_size=1, max_size=10))
        def run(seq: list[tuple[str, Any]]) -> None:
            loop.run_until_complete(play(env, next(users), seq))

        run()
        assert "unhandled error" not in caplog.text, caplog.text[-3000:]
        assert len(env.sim.adds()) == len({a.link for a in env.sim.adds()})
        assert all(not rows for rows in loop.run_until_complete(env.shop.check_ledger()).values())
    finally:
        loop.run_until_complete(shop_cm.__aexit__(None, None, None))
        loop.close()
