"""``python -m bot run``: serve the shop until SIGINT/SIGTERM.

Telegram (long polling) when a token is configured, the HTTP face (Kakao skill, card
checkout pages, the owner's console) when a feature needs it, and the scheduler.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from telegram.error import InvalidToken, NetworkError

from bot.config import Config, require_front
from bot.logging_setup import install_secret_filter
from bot.runtime import open_shop
from bot.serving import start_serving, stop_serving
from bot.telegram_request import describe_failure

log = logging.getLogger(__name__)


async def serve(config: Config, stop: asyncio.Event | None = None) -> None:
    runtime = await open_shop(config)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        serving = await start_serving(config, runtime)
        try:
            fronts = ", ".join(sorted(runtime.senders)) or "no chat front"
            log.info("shop %s is running (%s)", config.shop.name, fronts)
            await stop.wait()
            log.info("stopping")
        finally:
            await stop_serving(serving)
    finally:
        await runtime.close()


def run(config: Config) -> int:
    require_front(config)
    install_secret_filter(config.secrets())
    try:
        asyncio.run(serve(config))
    except InvalidToken:
        log.error("Telegram rejected the bot token: check telegram.token")
        return 2
    except NetworkError as exc:
        log.error("cannot start: %s", describe_failure(config.telegram.base_url, exc))
        return 1
    except OSError as exc:
        log.error("cannot serve the HTTP face on %s: %s", config.web.listen, exc.strerror or exc)
        return 1
    except Exception:
        # Through logging, so the secret filter masks it: a raw traceback would print
        # e.g. PTB's InvalidToken text, which contains the token itself.
        log.exception("the shop stopped with an error")
        return 1
    return 0
