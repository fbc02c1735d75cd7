"""The shop's HTTP face and a shop without Telegram: `run` serves KakaoTalk-only shops too,
the scheduler belongs to the shop (not to a front), and every answer carries the security
headers."""

from __future__ import annotations

import asyncio
import signal
import sys

import httpx

from bot.config import parse_config
from bot.runtime import open_shop
from bot.serving import start_serving, stop_serving
from sandbox.panel import PanelSimulator, serve_panel
from sandbox.ports import free_port
from shop.models import OrderInput, PlaceOutcome
from tests.botenv import PANEL_KEY


async def test_kakao_only_shop_serves_http_and_polls_without_telegram(tmp_path):
    sim = PanelSimulator(api_key=PANEL_KEY, auto_advance=False)
    panel = await serve_panel(sim)
    raw = {
        "provider": {"url": panel.url, "key": PANEL_KEY, "timeout_seconds": 5},
        "storage": {"path": str(tmp_path / "shop.sqlite3")},
        "scheduler": {"poll_interval_seconds": 1},
        "kakao": {"enabled": True},
        "telegram": {"admin_ids": [9001]},  # admins act from the web console here
    }
    config = parse_config(raw, environ={})
    assert not config.telegram_enabled and config.web_enabled
    rt = await open_shop(config)
    try:
        serving = await start_serving(config, rt, web_port=0)
        try:
            assert rt.telegram is None and "telegram" not in rt.senders
            async with httpx.AsyncClient(base_url=serving.web.url) as client:
                health = await client.get("/healthz")
            assert health.status_code == 200 and health.json()["ok"] is True
            assert health.headers["x-content-type-options"] == "nosniff"
            assert health.headers["x-frame-options"] == "DENY"
            # The jobs run with no Telegram front: an order is polled to completion.
            user = await rt.shop.users.ensure_front("kakao", "kk-1", "카카오", "ko")
            topup = await rt.shop.topups.request_bank(user.id, 10_000, "카카오")
            await rt.shop.topups.approve(topup.id, 9001)
            svc = next(s for s in await rt.shop.catalog.all() if s.panel_id == "101")
            quote = await rt.shop.orders.quote(
                user.id, svc.id, OrderInput(link="https://instagram.com/k", quantity=100)
            )
            placed = await rt.shop.orders.place(user.id, quote.token)
            assert placed.outcome == PlaceOutcome.PLACED
            sim.set_order(placed.order.panel_order_id, status="Completed")
            for _ in range(100):
                order = await rt.shop.orders.get_for_user(user.id, placed.order.id)
                if order.status == "completed":
                    break
                await asyncio.sleep(0.1)
            assert order.status == "completed"
            news = await rt.shop.ctx.db.fetch_all(
                "SELECT front FROM outbox WHERE user_id = ? AND event = 'order_completed'",
                (user.id,),
            )
            assert [r["front"] for r in news] == ["kakao"]
        finally:
            await stop_serving(serving)
    finally:
        await rt.close()
        await panel.stop()


async def _run(tmp_path, body: str) -> asyncio.subprocess.Process:
    cfg = tmp_path / "config.toml"
    cfg.write_text(body, encoding="utf-8")
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "--config", str(cfg),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def test_run_without_any_front_is_a_config_error(tmp_path):
    proc = await _run(tmp_path, '[provider]\nurl = "http://127.0.0.1:9/api/v2"\nkey = "k"\n')
    _, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 2
    assert "telegram.token" in err.decode() and "[kakao]" in err.decode()


async def test_run_serves_the_http_face_for_a_kakao_only_shop(tmp_path):
    sim = PanelSimulator(api_key=PANEL_KEY, auto_advance=False)
    panel = await serve_panel(sim)
    port = free_port()
    proc = await _run(
        tmp_path,
        f'[provider]\nurl = "{panel.url}"\nkey = "{PANEL_KEY}"\n'
        f'[storage]\npath = "shop.sqlite3"\n[kakao]\nenabled = true\n'
        f'[web]\nlisten = "127.0.0.1:{port}"\n',
    )
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(150):
                try:
                    health = await client.get(f"http://127.0.0.1:{port}/healthz")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
        assert health.status_code == 200 and health.json()["ok"] is True
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), timeout=20)
    finally:
        if proc.returncode is None:
            proc.kill()
        await panel.stop()
    assert proc.returncode == 0, err.decode()[-2000:]
    assert "Traceback" not in err.decode() and PANEL_KEY not in err.decode()
