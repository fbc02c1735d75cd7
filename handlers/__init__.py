"""Telegram front end: one module per feature, each with ``register(app)``."""

from __future__ import annotations

from telegram.ext import Application


def register_all(app: Application) -> None:
    # Order matters within group 0: the first matching handler wins, so the
    # admin's conversations come before the customers' turns (front), which take the rest.
    from handlers import admin, front

    admin.register(app)
    front.register(app)
