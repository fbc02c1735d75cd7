"""The stand-ins run on the shop's own embedded uvicorn helper (bot/webserver.py)."""

from bot.webserver import EmbeddedServer, start_uvicorn, stop_uvicorn

__all__ = ["EmbeddedServer", "start_uvicorn", "stop_uvicorn"]
