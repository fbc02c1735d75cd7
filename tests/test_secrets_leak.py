"""Secrets never leak: logs, exception texts and reprs from representative flows, and the
stderr of ``python -m bot run`` failing against a dead panel and with a rejected token,
are searched for the bot token, the panel key and the payments token."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import traceback
from pathlib import Path

import pytest

from bot.config import ConfigError, parse_config
from bot.logging_setup import SecretFilter
from fulfillment.client import PanelClient
from fulfillment.models import AddRequest, PanelError, ServiceType
from sandbox.ports import free_port
from sandbox.telegram import BotApiEmulator, serve_telegram
from shop.models import OrderInput
from tests.botenv import PANEL_KEY, TOKEN, running_shop

PAYMENTS = "284685063:TEST:pAyMeNtS-sEcReT-77"
SECRETS = (TOKEN, PANEL_KEY, PAYMENTS, TOKEN.split(":", 1)[1])
# Our own code must never log a secret, even without the filter. Libraries may (httpx
# logs request URLs, PTB logs its API URL at DEBUG, and the Bot API URL holds the
# token): in production every handler carries bot.logging_setup.SecretFilter, so
# everything that passes a handler is checked after that filter.
OWN = ("bot", "handlers", "shop", "storage", "fulfillment", "sandbox")
ROOT = Path(__file__).resolve().parent.parent


def assert_clean(text: str, where: str) -> None:
    leaked = [f"…{s[:6]}…" for s in SECRETS if s in text]  # never echo a whole secret
    assert not leaked, f"secrets leaked into {where}: {leaked}"


def own_records(caplog: pytest.LogCaptureFixture) -> str:
    """Raw text (message + traceback) of records logged by the shop's own packages."""
    out = []
    for r in caplog.records:
        if r.name.split(".")[0] not in OWN:
            continue
        out.append(r.getMessage())
        if r.exc_info and r.exc_info[1] is not None:
            out.append("".join(traceback.format_exception(*r.exc_info)))
    return "\n".join(out)


async def test_bot_session_order_and_handler_crash_log_no_secret(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    # What `python -m bot run` does to its handlers (install_secret_filter).
    caplog.handler.addFilter(SecretFilter(SECRETS[:3]))
    async with running_shop(tmp_path, telegram={"payments_token": PAYMENTS}) as env:
        assert_clean(repr(env.config) + str(env.config), "the config's repr")
        assert_clean(repr(env.runtime.panel), "the panel client's repr")
        await env.credit(1, 50_000)
        u = env.user(1)
        await u.send_command("/start")
        await u.wait_for("현재 잔액")
        # An order whose add gets an HTML page, then one the panel refuses.
        svc = next(s for s in await env.shop.catalog.all() if s.panel_id == "101")
        user = await env.shop.users.by_telegram(1)
        env.sim.set_quirk("html_503", times=1)
        for link in ("https://instagram.com/a", "https://instagram.com/b"):
            q = await env.shop.orders.quote(user.id, svc.id, OrderInput(link=link, quantity=100))
            await env.shop.orders.place(user.id, q.token)
            env.sim.set_balance("0")
        # A handler that crashes: the error handler logs the traceback.
        env.emu.fail_next("sendMessage", 1, "drop")
        await u.send_command("/balance")
        await u.send_command("/start")
        await u.wait_for("현재 잔액")
        env.sim.set_quirk("rate_limit_429", times=3)
        await env.shop.fulfilment.poll_once()
    text = own_records(caplog)
    assert "unhandled error" in text  # the crash really was logged, traceback and all
    assert_clean(text, "the shop's own log records")
    assert_clean(caplog.text, "the filtered log output")


async def test_panel_errors_and_reprs_hide_the_key():
    async def no_sleep(_s: float) -> None:
        return None

    client = PanelClient(f"http://127.0.0.1:{free_port()}/api/v2", PANEL_KEY, sleep=no_sleep)
    try:
        assert_clean(repr(client), "PanelClient repr")
        for call in (
            client.balance(),
            client.add(AddRequest("1", ServiceType.DEFAULT, link="x", quantity=1)),
        ):
            with pytest.raises(PanelError) as err:
                await call
            assert_clean(str(err.value) + repr(err.value), "a panel error")
            assert_clean("".join(traceback.format_exception(err.value)), "a panel traceback")
    finally:
        await client.aclose()


def test_config_errors_hide_secrets():
    bad = {"telegram": {"token": TOKEN, "payments_token": PAYMENTS, "admin_ids": "nope"},
           "provider": {"url": "x", "key": PANEL_KEY, "timeout_seconds": "soon"}}  # fmt: skip
    with pytest.raises(ConfigError) as err:
        parse_config(bad, environ={})
    assert_clean(str(err.value) + repr(err.value), "a config error")
    ok = parse_config({"provider": {"url": "http://x", "key": PANEL_KEY}}, environ={})
    assert_clean(repr(ok) + str(ok) + str(ok.model_dump()), "a config dump")


async def run_bot(tmp_path: Path, token: str, tg_url: str, until: str | None) -> tuple[int, str]:
    """Run ``python -m bot run`` until it exits or prints ``until``; then SIGTERM it."""
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[telegram]\ntoken = "{token}"\nbase_url = "{tg_url}"\n'
        f'payments_token = "{PAYMENTS}"\nadmin_ids = [1]\n'
        f'[provider]\nurl = "http://127.0.0.1:{free_port()}/api/v2"\nkey = "{PANEL_KEY}"\n'
        f'timeout_seconds = 1\n[storage]\npath = "{tmp_path / "shop.sqlite3"}"\n',
        encoding="utf-8",
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--config", str(cfg),
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert proc.stdout is not None
    lines: list[str] = []

    async def read_until_marker() -> None:
        while line := await proc.stdout.readline():
            lines.append(line.decode("utf-8", "replace"))
            if until is not None and until in lines[-1]:
                return

    try:
        await asyncio.wait_for(read_until_marker(), 30)
        if until is None:  # it exits by itself: its output ended, now its exit code
            await asyncio.wait_for(proc.wait(), 15)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        rest, _ = await asyncio.wait_for(proc.communicate(), 15)
    lines.append(rest.decode("utf-8", "replace"))
    return proc.returncode or 0, "".join(lines)


async def test_bot_run_with_rejected_token_and_dead_panel_prints_no_secret(tmp_path):
    emu = BotApiEmulator("999999:the-real-token-is-another-one")
    srv = await serve_telegram(emu)
    try:
        # The emulator knows another token: ours is rejected (401 → InvalidToken).
        code, output = await run_bot(tmp_path, TOKEN, srv.base_url, None)  # exits
    finally:
        await srv.stop()
    assert code == 2 and "rejected the bot token" in output, output[-2000:]
    assert_clean(output, "the stderr of a rejected start")


async def test_bot_run_against_a_dead_panel_prints_no_secret(tmp_path):
    emu = BotApiEmulator(TOKEN)
    srv = await serve_telegram(emu)
    try:
        _code, output = await run_bot(tmp_path, TOKEN, srv.base_url, "catalog sync failed")
    finally:
        await srv.stop()
    assert "catalog sync failed" in output, output[-2000:]  # it really met the dead panel
    assert_clean(output, "the stderr of a run against a dead panel")
