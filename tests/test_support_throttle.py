"""Support hours (FAQ: Mon–Fri 10–19 KST, lunch 13–14, Korean holidays off) and the
per-customer throttle (more than ~5 updates a second is slowed down, not served twice)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from handlers.throttle import Bucket, Pacer
from shop.support import state_at

KST = ZoneInfo("Asia/Seoul")


def kst(*args: int) -> datetime:
    return datetime(*args, tzinfo=KST)


@pytest.mark.parametrize(
    ("when", "open_now", "reason", "next_open"),
    [
        (kst(2026, 11, 25, 11, 0), True, "open", None),  # Wednesday morning
        (kst(2026, 11, 25, 13, 30), False, "lunch", kst(2026, 11, 25, 14, 0)),
        (kst(2026, 11, 25, 19, 0), False, "after_hours", kst(2026, 11, 26, 10, 0)),
        (kst(2026, 11, 25, 8, 59), False, "after_hours", kst(2026, 11, 25, 10, 0)),
        (kst(2026, 11, 27, 20, 0), False, "after_hours", kst(2026, 11, 30, 10, 0)),  # Fri→Mon
        (kst(2026, 11, 28, 12, 0), False, "weekend", kst(2026, 11, 30, 10, 0)),
        (kst(2026, 12, 25, 11, 0), False, "holiday", kst(2026, 12, 28, 10, 0)),  # Christmas
    ],
)
def test_support_hours(when, open_now, reason, next_open):
    state = state_at(when)
    assert (state.open_now, state.reason) == (open_now, reason)
    if next_open is not None:
        assert state.next_open == next_open


def test_support_hours_from_utc_and_holiday_name():
    # 2026-09-25 is 추석 (Chuseok); 01:00 UTC is 10:00 in Seoul.
    state = state_at(datetime.fromisoformat("2026-09-25T01:00:00+00:00"))
    assert state.reason == "holiday" and state.holiday_name


def test_bucket_allows_a_burst_then_paces():
    b = Bucket()
    waits = [b.take() for _ in range(8)]
    assert waits[:5] == [0.0] * 5  # a burst of five is served at once
    assert all(w > 0 for w in waits[5:])  # then each waits its turn


async def test_a_flooding_customer_is_slowed_and_served_once(env):
    import time

    u = env.user(6101)
    started = time.monotonic()
    for i in range(12):
        await u.send_text(f"flood {i}")
    other = env.user(6102)  # another customer is answered at once meanwhile
    await other.send_command("/start")
    await other.wait_for(r"현재 잔액")
    assert time.monotonic() - started < 1.0

    def served() -> int:
        return sum("무엇을 도와드릴까요" in m.text for m in u.bot_messages())

    while served() < 12:
        await asyncio.wait_for(env.emu.wait_changed(env.emu.version), timeout=10)
    elapsed = time.monotonic() - started
    replies = [m for m in u.bot_messages() if "무엇을 도와드릴까요" in m.text]
    assert len(replies) == 12  # each update served exactly once
    assert elapsed >= 1.2  # 5 at once, then 5 a second: 7 more take ~1.4 s


async def test_a_flood_holds_no_shared_slot_and_never_delays_another_customer(env):
    """Issue 10: 330 updates from one customer held every concurrent slot while their
    pacing slept, and another customer's /start took 13 s. Now the flood waits its turn
    outside the shared capacity: the other customer is answered at once, and every flood
    update is still handled exactly once, in order."""
    import time

    flooder, n = env.user(6201), 300
    for i in range(n):
        await flooder.send_text(f"flood {i}")
    await env.emu.wait_updates_fetched(timeout=10)  # PTB holds all 300 now
    other = env.user(6202)
    started = time.monotonic()
    await other.send_command("/start")
    await other.wait_for(r"현재 잔액", timeout=10)
    reply_seconds = time.monotonic() - started
    assert reply_seconds < 3.0, f"another customer waited {reply_seconds:.1f} s"
    assert env.app.update_processor.running <= 2  # the flood takes one slot, not all

    env.app.update_processor.pace = Pacer(rate=1000, burst=1000).delay  # drain quickly

    def answered() -> int:
        return sum("무엇을 도와드릴까요" in m.text for m in flooder.bot_messages())

    while answered() < n:
        await asyncio.wait_for(env.emu.wait_changed(env.emu.version), timeout=20)
    await flooder.send_command("/start")  # after every flood update, in order
    await flooder.wait_for(r"현재 잔액", timeout=10)
    assert answered() == n  # each flood update handled once
