from __future__ import annotations

import zoneinfo
from functools import cache

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

currency_code = RegexValidator(
    r"^[A-Z]{3}$", "Enter a three-letter ISO 4217 currency code in capitals, e.g. USD."
)


@cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def timezone_name(value: str) -> None:
    if value not in _timezones():
        raise ValidationError(
            "%(value)s is not a known time zone; use an IANA name such as America/New_York.",
            params={"value": value},
        )


def display_name(value: str) -> None:
    # QuickBooks rejects ':' , tabs and newlines in a customer's DisplayName.
    if any(char in value for char in ":\t\n\r"):
        raise ValidationError("Names cannot contain a colon, a tab or a line break.")
