"""``python -m bot run``: long polling until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal

from telegram.error import InvalidToken, NetworkError

from bot.app import build_application, open_shop, start_bot, stop_bot
from bot.config import Config, require_token
from bot.logging_setup import install_secret_filter

log = logging.getLogger(__name__)


async def serve(config: Config, stop: asyncio.Event | None = None) -> None:
    runtime = await open_shop(config)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        app = build_application(config, runtime.shop)
        await start_bot(app)
        try:
            log.info("shop %s is running", config.shop.name)
            await stop.wait()
            log.info("stopping")
        finally:
            await stop_bot(app)
    finally:
        await runtime.close()


def run(config: Config) -> int:
    require_token(config)
    install_secret_filter(config.secrets())
    try:
        asyncio.run(serve(config))
    except InvalidToken:
        log.error("Telegram rejected the bot token: check telegram.token")
        return 2
    except NetworkError as exc:
        log.error("cannot reach the Telegram Bot API at %s: %s", config.telegram.base_url, exc)
        return 1
    except Exception:
        # Through logging, so the secret filter masks it: a raw traceback would print
        # e.g. PTB's InvalidToken text, which contains the token itself.
        log.exception("the shop stopped with an error")
        return 1
    return 0
