"""Who may use the owner's web console: one-time login links and sessions.

No passwords: an admin (``settings.admin_ids``) gets a link that works once, for
``LOGIN_TTL``, and opening it starts a session at once. A session lives while it is used
(the idle limit is the caller's, from config) and at most ``SESSION_MAX``; it is refused
the moment its admin id is no longer an admin. Only SHA-256 hashes of the link and
session secrets are stored, so a copy of the database opens nothing.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from shop.context import ShopContext
from storage import audit, sessions, users

log = logging.getLogger(__name__)

LOGIN_TTL = timedelta(minutes=10)
SESSION_MAX = timedelta(hours=12)
# last_seen is written at most this often (not on every page view): idle expiry is exact
# to within a minute, and reading a page costs no write.
TOUCH_AFTER = timedelta(seconds=60)
MAX_SECRET_CHARS = 100
LANGUAGES = ("ko", "en")


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _plausible(raw: str | None) -> bool:
    return bool(raw) and len(raw) <= MAX_SECRET_CHARS and raw.isascii()  # type: ignore[union-attr]


@dataclass(frozen=True, slots=True)
class AdminSession:
    key: str  # the stored hash: names the session without being its secret
    admin_id: int
    language: str


@contextmanager
def acting_from(source: str) -> Iterator[None]:
    """Audit rows written inside this block record ``source`` ('chat', 'web', 'cli')."""
    if source not in audit.SOURCES:
        raise ValueError(source)
    token = audit.current_source.set(source)
    try:
        yield
    finally:
        audit.current_source.reset(token)


class AdminAccess:
    def __init__(self, ctx: ShopContext) -> None:
        self.ctx = ctx

    def is_admin(self, admin_id: int) -> bool:
        return admin_id in self.ctx.settings.admin_ids

    async def issue_login(self, admin_id: int, source: str = "chat") -> str | None:
        """A fresh one-time login secret for an admin; None for anyone else. Audited with
        where it was asked for ('chat': /admin, 'cli': ``python -m bot admin-link``)."""
        if not self.is_admin(admin_id):
            log.warning("login link refused to non-admin %s", admin_id)
            return None
        raw = secrets.token_urlsafe(32)
        now = self.ctx.now_iso()
        expires = self.ctx.now_iso(seconds=LOGIN_TTL.total_seconds())
        async with self.ctx.db.transaction() as conn:
            await sessions.purge_logins(conn, now)
            await sessions.insert_login(conn, _hash(raw), admin_id, now, expires)
            await audit.record(
                conn, actor_id=admin_id, action="console.link", target=None, before=None,
                after={"expires_at": expires}, now=now, source=source,
            )  # fmt: skip
        return raw

    async def login_link(self, admin_id: int, source: str = "chat") -> str | None:
        """The console's login URL for an admin, or None (not an admin, or no console)."""
        base = self.ctx.settings.console_url
        if not base:
            return None
        raw = await self.issue_login(admin_id, source)
        return None if raw is None else f"{base}/login/{raw}"

    async def open_session(
        self, login_secret: str, *, user_agent: str | None = None
    ) -> tuple[str, AdminSession] | None:
        """Use a login link (once): (the session's secret for the cookie, the session)."""
        if not _plausible(login_secret):
            return None
        now = self.ctx.now_iso()
        raw = secrets.token_urlsafe(32)
        async with self.ctx.db.transaction() as conn:
            admin_id = await sessions.use_login(conn, _hash(login_secret), now)
            if admin_id is None:
                return None
            if not self.is_admin(admin_id):
                log.warning("login link of removed admin %s refused", admin_id)
                return None
            known = await users.get_by_telegram(conn, admin_id)
            language = known["language"] if known and known["language"] in LANGUAGES else "ko"
            await sessions.purge_sessions(conn, self.ctx.now_iso(days=-1))
            agent = (user_agent or "")[:200] or None
            await sessions.insert_session(conn, _hash(raw), admin_id, language, agent, now)
            await audit.record(
                conn, actor_id=admin_id, action="console.login", target=None, before=None,
                after={"user_agent": agent}, now=now, source="web",
            )  # fmt: skip
        log.info("console session opened for admin %s", admin_id)
        return raw, AdminSession(_hash(raw), admin_id, language)

    async def session(self, raw: str | None, idle: timedelta) -> AdminSession | None:
        """The live session behind a cookie value, or None (unknown, idle, too old, ended,
        or its admin removed)."""
        if not _plausible(raw):
            return None
        key = _hash(raw)  # type: ignore[arg-type]
        row = await sessions.get_session(self.ctx.db.reader, key)
        if row is None:
            return None
        last_seen = self.ctx.now_iso(seconds=-idle.total_seconds())
        oldest = self.ctx.now_iso(seconds=-SESSION_MAX.total_seconds())
        if row["last_seen_at"] < last_seen or row["created_at"] < oldest:
            return None
        if not self.is_admin(row["admin_id"]):
            return None
        if row["last_seen_at"] < self.ctx.now_iso(seconds=-TOUCH_AFTER.total_seconds()):
            async with self.ctx.db.transaction() as conn:
                await sessions.touch_session(conn, key, self.ctx.now_iso())
        return AdminSession(key, row["admin_id"], row["language"])

    async def end(self, session: AdminSession) -> None:
        async with self.ctx.db.transaction() as conn:
            await sessions.end_session(conn, session.key, self.ctx.now_iso())

    async def set_language(self, session: AdminSession, language: str) -> None:
        if language not in LANGUAGES:
            raise ValueError(language)
        async with self.ctx.db.transaction() as conn:
            await sessions.set_language(conn, session.key, language)
