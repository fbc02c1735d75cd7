"""``python -m bot run`` as the owner runs it: starts against the stand-ins, answers a
customer, and stops cleanly on SIGTERM (exit 0, database closed)."""

from __future__ import annotations

import asyncio
import signal
import sys

from sandbox.panel import PanelSimulator, serve_panel
from sandbox.telegram import BotApiEmulator, serve_telegram
from tests.botenv import PANEL_KEY, TOKEN


async def test_run_serves_then_stops_cleanly_on_sigterm(tmp_path):
    sim = PanelSimulator(api_key=PANEL_KEY, auto_advance=False)
    emu = BotApiEmulator(TOKEN)
    panel, tg = await serve_panel(sim), await serve_telegram(emu)
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[telegram]\ntoken = "{TOKEN}"\nbase_url = "{tg.base_url}"\n'
        f'[provider]\nurl = "{panel.url}"\nkey = "{PANEL_KEY}"\n'
        '[storage]\npath = "shop.sqlite3"\n',
        encoding="utf-8",
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--config", str(cfg),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        u = emu.user(5001)
        await u.send_command("/start")
        await u.wait_for(r"현재 잔액", timeout=20)
        assert {key[-1] for key in emu.commands} >= {"ko", "en"}  # commands registered
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), timeout=20)
    finally:
        if proc.returncode is None:
            proc.kill()
        await tg.stop()
        await panel.stop()
    assert proc.returncode == 0, err.decode()[-2000:]
    log = err.decode()
    assert "stopping" in log and "Traceback" not in log
    assert TOKEN not in log and PANEL_KEY not in log
    assert (tmp_path / "shop.sqlite3").exists()


def _config(tmp_path, base_url: str, panel_url: str) -> str:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[telegram]\ntoken = "{TOKEN}"\nbase_url = "{base_url}"\n'
        f'[provider]\nurl = "{panel_url}"\nkey = "{PANEL_KEY}"\n'
        '[storage]\npath = "shop.sqlite3"\n',
        encoding="utf-8",
    )
    return str(cfg)


async def _run_until_exit(cfg: str) -> tuple[int | None, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--config", cfg,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        _, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    finally:
        if proc.returncode is None:
            proc.kill()
    return proc.returncode, err.decode()


async def test_run_says_what_answered_when_the_bot_api_fails(tmp_path):
    """A 502 from the Bot API (or a proxy before it) is not "cannot connect"."""
    emu = BotApiEmulator(TOKEN)
    emu.fail_next("getMe", 5, "5xx", status=502)
    panel, tg = await serve_panel(PanelSimulator(api_key=PANEL_KEY)), await serve_telegram(emu)
    try:
        code, log = await _run_until_exit(_config(tmp_path, tg.base_url, panel.url))
        assert code == 1, log[-2000:]
        assert f"the Bot API at {tg.base_url} answered HTTP 502 (Bad Gateway)" in log
        assert "cannot connect" not in log and "Traceback" not in log
        await tg.stop()  # now nothing listens there
        code, log = await _run_until_exit(_config(tmp_path, tg.base_url, panel.url))
        assert code == 1 and f"cannot connect to the Bot API at {tg.base_url}" in log, log
        assert TOKEN not in log
    finally:
        await tg.stop()
        await panel.stop()
