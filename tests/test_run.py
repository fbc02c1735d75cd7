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
