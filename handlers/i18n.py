"""Moved to chat/i18n.py (the catalogs are shared by every front); kept as an alias for
code that still imports it from here."""

from chat.i18n import DEFAULT_LANG, LANGS, Safe, catalog, lang_of, placeholders, t

__all__ = ["DEFAULT_LANG", "LANGS", "Safe", "catalog", "lang_of", "placeholders", "t"]
