"""The owner's web console (issue 14): server-rendered pages over the shop's use-cases.

``routes(shop, public_url=…, session_idle_minutes=…)`` gives the Starlette routes; the
web face in bot/ serves them under ``PREFIX``. The pages (Jinja2, ~0.2 s to import) are
loaded only when the console is served, not at every start of the shop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from shop.shop import Shop

PREFIX = "/console"


def routes(
    shop: Shop, *, public_url: str | None = None, session_idle_minutes: int = 60
) -> list[BaseRoute]:
    """The console's routes for the shop's web face (bot/ assembles them)."""
    from web.console.app import Console

    console = Console(shop, public_url=public_url, session_idle_minutes=session_idle_minutes)
    return console.routes()
