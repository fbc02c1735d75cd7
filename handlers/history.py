"""Placeholder: filled in by its feature."""

from telegram.ext import Application


def register(app: Application) -> None:
    pass
