"""The owner's web console (issue 14): server-rendered pages over the shop's use-cases.

``routes(shop, public_url=…, session_idle_minutes=…)`` gives the Starlette routes; the
web face in bot/ serves them under ``PREFIX``.
"""

from web.console.app import PREFIX, Console, routes

__all__ = ["PREFIX", "Console", "routes"]
