"""Card crash safety: the real ``python -m bot run`` (web face on, Toss stand-in in this
process) is SIGKILLed right after Toss approved a payment and before our credit was
written (crash point ``after_card_confirm``). After a restart, the reconcile job finds the
checkout left ``confirming``, looks the order up at Toss and credits it exactly once; the
customer's chat is told; the success URL opened again shows 충전 완료 without a second
credit; ``python -m bot check`` passes."""

from __future__ import annotations

import asyncio
import socket
import time

import httpx

from bot.config import load_config
from bot.runtime import open_shop
from sandbox.toss import TEST_CLIENT_KEY, TEST_SECRET_KEY, TossStandIn, serve_toss
from tests.crash.harness import CrashHarness
from tests.tossenv import open_window, press

CUSTOMER = 4242
AMOUNT = 25_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _until(check, within: float = 20.0) -> None:
    """Wait for another process's work to show in the database (it cannot signal us)."""
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def _web_up(url: str) -> None:
    async with httpx.AsyncClient() as http:
        deadline = time.monotonic() + 20
        while True:
            try:
                if (await http.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the web face did not come up"
            await asyncio.sleep(0.05)


async def test_kill_between_toss_commit_and_credit_is_credited_once_after_restart(tmp_path):
    toss = await serve_toss(TossStandIn())
    port = _free_port()
    web = f"http://127.0.0.1:{port}"
    try:
        async with CrashHarness(tmp_path, seed=13) as h:
            cfg = h.cfg_path.read_text(encoding="utf-8").replace(
                "[storage]", "[web]\n"
                f'listen = "127.0.0.1:{port}"\npublic_url = "{web}"\n\n'
                f'[card]\nclient_key = "{TEST_CLIENT_KEY}"\nsecret_key = "{TEST_SECRET_KEY}"\n'
                f'api_url = "{toss.url}"\nsdk_url = "{toss.sdk_url}"\n\n[storage]',
            )  # fmt: skip
            h.cfg_path.write_text(cfg, encoding="utf-8")
            customer = h.emu.user(CUSTOMER, first_name="카드고객", language_code="ko")
            # The checkout, as the chat's 카드결제 step makes it (the bot is not running yet).
            rt = await open_shop(load_config(h.cfg_path))
            try:
                user = await rt.shop.users.ensure(CUSTOMER, None, "카드고객", "ko")
                checkout = await rt.shop.cards.create_checkout(user.id, AMOUNT)
                success_url, fail_url = rt.shop.cards.return_urls(checkout)
            finally:
                await rt.close()

            await h.start(crash_at="after_card_confirm")
            await _web_up(web)
            _, key = await open_window(toss.url, order_id=checkout.order_id, amount=AMOUNT,
                                       success_url=success_url, fail_url=fail_url)  # fmt: skip
            back = (await press(toss.url, key)).url
            async with httpx.AsyncClient(timeout=10) as http:
                try:
                    await http.get(back)
                    raise AssertionError("the bot answered instead of dying at the crash point")
                except httpx.HTTPError:
                    pass  # killed mid-request
            death = await h.wait_death(10)
            assert death is not None and death.cause == "after_card_confirm"
            assert toss.sim.payments[key].status == "DONE"  # Toss took the money...
            with h.db() as conn:
                row = conn.execute("SELECT * FROM checkouts").fetchone()
                credits = conn.execute("SELECT COUNT(*) FROM ledger WHERE idem_key LIKE 'card:%'")
                assert row["status"] == "confirming" and row["payment_key"] == key
                assert credits.fetchone()[0] == 0  # ...and we had not credited it yet

            await h.start()  # no crash point: the reconcile job runs within a poll interval

            def credited() -> bool:
                with h.db() as conn:
                    return conn.execute("SELECT status FROM checkouts").fetchone()[0] == "done"

            await _until(credited)
            await customer.wait_for("25,000원 충전이 완료됐어요", timeout=15, after=0)
            await _web_up(web)
            async with httpx.AsyncClient() as http:
                page = await http.get(back)  # the customer reloads the success URL
            assert page.status_code == 200 and "충전 완료" in page.text
            assert "현재 잔액: 25,000원" in page.text
            with h.db() as conn:
                rows = conn.execute("SELECT * FROM ledger WHERE kind = 'topup'").fetchall()
                balance = conn.execute("SELECT balance FROM users WHERE telegram_id = ?",
                                       (CUSTOMER,)).fetchone()[0]  # fmt: skip
            assert [(r["idem_key"], r["amount"]) for r in rows] == [(f"card:{key}", AMOUNT)]
            assert balance == AMOUNT
            assert len([m for m in customer.bot_messages() if "충전이 완료" in m.text]) == 1
            rc, out = await h.run_check()
            assert rc == 0, out
    finally:
        await toss.stop()
