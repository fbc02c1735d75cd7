"""``python -m bot demo``: the demo's parts in-process, driven over real HTTP like the page does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.demo import ADMIN, CUSTOMER, START_BALANCE, DemoHandle, start_demo

State = dict[str, Any]


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[DemoHandle]:
    handle = await start_demo("127.0.0.1", 0, str(tmp_path / "demo-data"))
    try:
        yield handle
    finally:
        await handle.stop()


@pytest.fixture
async def web(demo: DemoHandle) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=demo.web_server.url, timeout=30) as client:
        yield client


async def poll_until(
    web: httpx.AsyncClient, user_id: int, done: Callable[[State], bool], within: float = 8
) -> State:
    """Follow the page's long poll until ``done(state)``; the last state on success."""
    since = 0
    async with asyncio.timeout(within):
        while True:
            r = await web.get(f"/api/chat/{user_id}", params={"since": since})
            assert r.status_code == 200, r.text
            state = r.json()
            if done(state):
                return state
            since = state["version"]


def bot_texts(state: State) -> list[str]:
    return [m["text"] for m in state["messages"] if m["from_bot"]]


def has_text(needle: str) -> Callable[[State], bool]:
    return lambda s: any(needle in t for t in bot_texts(s))


async def send(web: httpx.AsyncClient, user_id: int, text: str) -> None:
    r = await web.post(f"/api/chat/{user_id}/send", json={"text": text})
    assert r.status_code == 200, r.text


async def test_page_is_served_with_switch_and_script(web: httpx.AsyncClient) -> None:
    page = await web.get("/")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert 'id="switch"' in page.text and 'data-user="9001"' in page.text
    assert '<script src="/static/chat.js">' in page.text
    script = await web.get("/static/chat.js")
    assert script.status_code == 200 and "innerHTML" not in script.text
    people = (await web.get("/api/people")).json()
    assert [p["id"] for p in people] == [CUSTOMER.id, ADMIN.id]


async def test_start_shows_seeded_balance_and_menu(web: httpx.AsyncClient) -> None:
    await send(web, CUSTOMER.id, "/start")
    state = await poll_until(web, CUSTOMER.id, has_text("현재 잔액"))
    greeting = next(t for t in bot_texts(state) if "현재 잔액" in t)
    assert "50,000원" in greeting
    assert "🛒 주문하기" in [label for row in state["keyboard"] for label in row]
    mine = [m for m in state["messages"] if not m["from_bot"]]
    assert mine[-1]["text"] == "/start"


async def test_inline_press_edits_the_message_in_place(web: httpx.AsyncClient) -> None:
    await send(web, CUSTOMER.id, "🛒 주문하기")
    state = await poll_until(
        web, CUSTOMER.id, lambda s: any(m["buttons"] for m in s["messages"] if m["from_bot"])
    )
    menu = next(m for m in reversed(state["messages"]) if m["buttons"])
    first = menu["buttons"][0][0]
    r = await web.post(
        f"/api/chat/{CUSTOMER.id}/press",
        json={"message_id": menu["message_id"], "data": first["callback_data"]},
    )
    assert r.status_code == 200, r.text

    def edited(s: State) -> bool:
        now = next(m for m in s["messages"] if m["message_id"] == menu["message_id"])
        return now["last_seq"] > menu["last_seq"] and now["text"] != menu["text"]

    state = await poll_until(web, CUSTOMER.id, edited)
    # The first button is a platform ("📸 인스타그램 (8)"); its page is titled with its name.
    assert first["text"].rsplit(" (", 1)[0] in next(
        m["text"] for m in state["messages"] if m["message_id"] == menu["message_id"]
    )


async def test_admin_chat_shows_the_seed_top_up_notice(web: httpx.AsyncClient) -> None:
    state = await poll_until(web, ADMIN.id, has_text("충전 요청"))
    notice = next(m for m in state["messages"] if "충전 요청" in m["text"])
    assert "50,000원" in notice["text"] and CUSTOMER.name in notice["text"]
    await send(web, ADMIN.id, "/start")
    await poll_until(web, ADMIN.id, lambda s: len(bot_texts(s)) >= 2)


async def test_long_poll_wakes_up_on_a_change_in_that_chat(web: httpx.AsyncClient) -> None:
    version = (await web.get(f"/api/chat/{CUSTOMER.id}")).json()["version"]
    waiting = asyncio.create_task(web.get(f"/api/chat/{CUSTOMER.id}", params={"since": version}))
    await asyncio.sleep(0.05)
    assert not waiting.done()  # nothing happened yet: the request is held
    await send(web, CUSTOMER.id, "/help")
    r = await asyncio.wait_for(waiting, 5)
    assert r.json()["version"] > version
    assert "/help" in [m["text"] for m in r.json()["messages"] if not m["from_bot"]]


async def test_bad_requests_are_refused(web: httpx.AsyncClient) -> None:
    assert (await web.get("/api/chat/4242")).status_code == 404
    assert (await web.post("/api/chat/1001/send", json={"text": "  "})).status_code == 400
    bad = await web.post("/api/chat/1001/press", json={"message_id": 999, "data": "o:x"})
    assert bad.status_code == 404
    assert (await web.post("/api/chat/1001/pay", json={"message_id": 999})).status_code == 404
    assert (await web.get("/api/chat/1001", params={"since": "x"})).status_code == 400


async def test_restart_keeps_data_and_does_not_seed_twice(tmp_path: Path) -> None:
    folder = str(tmp_path / "demo-data")
    for _ in range(2):
        handle = await start_demo("127.0.0.1", 0, folder)
        try:
            user = await handle.runtime.shop.users.by_telegram(CUSTOMER.id)
            assert user is not None and user.balance == START_BALANCE
        finally:
            await handle.stop()
    assert (tmp_path / "demo-data" / "shop.sqlite3").exists()


async def test_stars_invoice_is_paid_through_the_page(web: httpx.AsyncClient) -> None:
    await send(web, CUSTOMER.id, "💳 잔액충전")
    state = await poll_until(
        web,
        CUSTOMER.id,
        lambda s: any(
            b["callback_data"] == "t:stars"
            for m in s["messages"]
            for row in m["buttons"]
            for b in row
        ),
    )
    menu = next(m for m in reversed(state["messages"]) if m["buttons"])
    r = await web.post(
        f"/api/chat/{CUSTOMER.id}/press", json={"message_id": menu["message_id"], "data": "t:stars"}
    )
    assert r.status_code == 200, r.text
    await poll_until(web, CUSTOMER.id, lambda s: s["messages"][-1]["last_seq"] > menu["last_seq"])
    await send(web, CUSTOMER.id, "10000")
    state = await poll_until(web, CUSTOMER.id, lambda s: s["messages"][-1]["kind"] == "invoice")
    invoice = state["messages"][-1]
    assert invoice["invoice"]["currency"] == "XTR" and invoice["invoice"]["total_amount"] == 500
    r = await web.post(f"/api/chat/{CUSTOMER.id}/pay", json={"message_id": invoice["message_id"]})
    assert r.status_code == 200 and r.json()["ok"], r.text
    state = await poll_until(web, CUSTOMER.id, has_text("60,000원"))
    assert any(m["kind"] == "successful_payment" for m in state["messages"])
