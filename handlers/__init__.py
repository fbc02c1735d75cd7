"""Telegram front end: one module per feature, each with ``register(app)``."""

from __future__ import annotations

from telegram.ext import Application


def register_all(app: Application) -> None:
    # Order matters within group 0: the first matching handler wins, so the
    # conversations come before the shared conversation's catch-all (front), which is last.
    from handlers import admin, front, history, order, throttle, topup

    throttle.register(app)
    admin.register(app)
    topup.register(app)
    order.register(app)
    history.register(app)
    front.register(app)
