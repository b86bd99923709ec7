"""Time as QBO writes it: local company time with an offset (qbo-api.md §4, cassette create/invoice).

MetaData times have whole seconds (`2020-09-29T05:58:07-07:00`); the envelope `time` has
milliseconds (`2020-09-29T05:58:07.300-07:00`).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

ZONES = {"US": "America/Los_Angeles", "UK": "Europe/London", "AU": "Australia/Sydney"}


@lru_cache(maxsize=8)
def zone_for(country: str) -> ZoneInfo:
    return ZoneInfo(ZONES.get(country, ZONES["US"]))


def now_in(country: str) -> dt.datetime:
    return dt.datetime.now(zone_for(country))


def meta_time(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="seconds")


def envelope_time(country: str = "US") -> str:
    return now_in(country).isoformat(timespec="milliseconds")


def today_in(country: str) -> dt.date:
    return now_in(country).date()


def parse_moment(text: str, country: str) -> dt.datetime | None:
    """Parse a QBO timestamp or date; naive values are company-local (python-quickbooks sends
    changedSince without an offset, qbo-api.md §7)."""
    try:
        moment = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone_for(country))
    return moment


def parse_date(text: object) -> dt.date | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return dt.date.fromisoformat(text[:10])
    except ValueError:
        return None
