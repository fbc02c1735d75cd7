"""Support hours (FAQ): Mon–Fri 10:00–19:00 KST, lunch 13:00–14:00, public holidays off."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

OPEN = time(10, 0)
CLOSE = time(19, 0)
LUNCH_START = time(13, 0)
LUNCH_END = time(14, 0)


@dataclass(frozen=True, slots=True)
class SupportState:
    open_now: bool
    reason: str  # open, lunch, after_hours, weekend, holiday
    holiday_name: str | None
    next_open: datetime  # local time


@lru_cache(maxsize=8)
def _kr_holidays(year: int) -> holidays.HolidayBase:
    # Korea's calendar includes substitute holidays (대체 휴일), which the FAQ observes.
    return holidays.country_holidays("KR", years=[year, year + 1])


def _closed_day(day: datetime) -> str | None:
    if day.weekday() >= 5:
        return "weekend"
    if day.date() in _kr_holidays(day.year):
        return "holiday"
    return None


def state_at(when: datetime, tz: str = "Asia/Seoul") -> SupportState:
    local = when.astimezone(ZoneInfo(tz))
    closed = _closed_day(local)
    t = local.time()
    holiday_name = _kr_holidays(local.year).get(local.date()) if closed == "holiday" else None
    if closed:
        reason = closed
    elif t < OPEN or t >= CLOSE:
        reason = "after_hours"
    elif LUNCH_START <= t < LUNCH_END:
        reason = "lunch"
    else:
        return SupportState(True, "open", None, local)
    return SupportState(False, reason, holiday_name, _next_open(local))


def _next_open(local: datetime) -> datetime:
    t = local.time()
    if not _closed_day(local):
        if t < OPEN:
            return local.replace(hour=10, minute=0, second=0, microsecond=0)
        if LUNCH_START <= t < LUNCH_END:
            return local.replace(hour=14, minute=0, second=0, microsecond=0)
    day = local.replace(hour=10, minute=0, second=0, microsecond=0) + timedelta(days=1)
    while _closed_day(day):
        day += timedelta(days=1)
    return day
