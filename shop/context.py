"""What every use-case needs: the database, the panel, the settings and the clock."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from shop.clock import Clock, SystemClock, iso
from shop.settings import ShopSettings
from storage.db import Database

if TYPE_CHECKING:
    from fulfillment.client import PanelClient
    from payments.gateway import CardGateway


@dataclass
class ShopContext:
    db: Database
    panel: PanelClient
    settings: ShopSettings
    clock: Clock = SystemClock()  # noqa: RUF009 - stateless
    gateway: CardGateway | None = None  # card payments; None when not configured

    def now(self) -> datetime:
        return self.clock.now()

    def now_iso(self, **delta: float) -> str:
        return iso(self.clock.now() + timedelta(**delta))


def new_token() -> str:
    """A short unguessable ASCII token for callback data (``o:ok:<token>``)."""
    return secrets.token_urlsafe(9)
