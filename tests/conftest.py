"""Shared pytest fixtures. Each block is owned by the module it serves; keep them apart."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fulfillment.client import PanelClient
from sandbox.panel import PanelSimulator, RunningServer, serve_panel

# --- panel simulator + client (fulfillment/, sandbox/panel.py) --------------------------

PANEL_KEY = "tEsT-pAnEl-SeCrEt-9f8e7d6c5b4a"  # distinctive, so leak checks can grep for it


@pytest.fixture
def panel_sleeps() -> list[float]:
    """Delays the panel client asked to sleep for (its retries never really sleep)."""
    return []


@pytest.fixture
async def panel_server() -> AsyncIterator[RunningServer]:
    """A PanelSimulator on a free loopback port; orders move only when a test says so."""
    sim = PanelSimulator(api_key=PANEL_KEY, auto_advance=False)
    server = await serve_panel(sim)
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def panel(
    panel_server: RunningServer, panel_sleeps: list[float]
) -> AsyncIterator[tuple[PanelSimulator, PanelClient]]:
    """(sim, client) talking over real HTTP; retry sleeps are recorded, not slept."""

    async def record_sleep(seconds: float) -> None:
        panel_sleeps.append(seconds)

    client = PanelClient(panel_server.url, PANEL_KEY, timeout=5.0, sleep=record_sleep)
    try:
        yield panel_server.sim, client
    finally:
        await client.aclose()


# --- the whole shop: simulator + emulator + SQLite + the real bot (tests/botenv.py) -----


@pytest.fixture
async def env(tmp_path):
    from tests.botenv import running_shop

    async with running_shop(tmp_path) as shop_env:
        yield shop_env


# --- screenshots the browser tests take ------------------------------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.fixture
def screenshot_path(tmp_path: Path):
    """Where a browser test saves a screenshot: docs/ when refreshing the README's pictures
    (scripts/screenshots.sh sets SHOP_DOCS_SCREENSHOTS=1), else the test's own folder, so an
    ordinary test run never changes a tracked file."""

    def path(name: str) -> Path:
        folder = DOCS if os.environ.get("SHOP_DOCS_SCREENSHOTS") == "1" else tmp_path
        folder.mkdir(exist_ok=True)
        return folder / name

    return path
