"""Every failure talking to QuickBooks, classified once, so callers decide by kind, not by code.

- transient: try again later (429 throttling, 5xx, timeouts, connection errors);
- auth: the access token was refused (HTTP 401): refresh it and try once more;
- reconnect: the refresh token or the app's access was refused (invalid_grant, revoked, the
  connecting user lost rights): a person has to reconnect;
- permanent: QuickBooks refused the data (validation, inactive references, closed books, …):
  retrying the same request cannot succeed.
"""

from __future__ import annotations


class QboError(Exception):
    kind = "permanent"

    def __init__(
        self,
        message: str,
        *,
        code: str = "",
        detail: str = "",
        http_status: int | None = None,
        intuit_tid: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.detail = detail
        self.http_status = http_status
        self.intuit_tid = intuit_tid


class QboTransientError(QboError):
    kind = "transient"


class QboTimeoutError(QboTransientError):
    """No answer in time. Unlike a dropped connection, QuickBooks may still be working on it."""


class QboNotSentError(QboTransientError):
    """The request was never sent (our rate limiter's store is unreachable): retry later."""


class QboThrottledError(QboTransientError):
    """HTTP 429 (or fault 3001): Intuit asks us to wait before the next request."""


class QboAuthError(QboError):
    kind = "auth"


class QboReconnectRequired(QboError):
    kind = "reconnect"


class QboPermanentError(QboError):
    kind = "permanent"


# Fault codes that mean the connection itself is no longer authorised (qbo-api.md §2):
# 120 Authorization Failure (the connecting user was removed or lost admin rights),
# 3100 ApplicationAuthorizationFailed.
RECONNECT_CODES = {"120", "3100"}
THROTTLE_CODES = {"3001"}
AUTH_CODES = {"3200"}
# 10000 is Intuit's SystemFault: "retry once" per their error-code page.
TRANSIENT_CODES = {"10000"}


def classify(
    *, http_status: int | None, code: str, message: str, detail: str = "", intuit_tid: str = ""
) -> QboError:
    """Turn what QuickBooks answered into the right QboError subclass."""
    fields = {"code": code, "detail": detail, "http_status": http_status, "intuit_tid": intuit_tid}
    if http_status == 429 or code in THROTTLE_CODES:
        return QboThrottledError(message or "QuickBooks throttled the request", **fields)
    if http_status == 401 or code in AUTH_CODES:
        return QboAuthError(message or "QuickBooks refused the access token", **fields)
    if code in RECONNECT_CODES:
        return QboReconnectRequired(message, **fields)
    if (http_status is not None and http_status >= 500) or code in TRANSIENT_CODES:
        return QboTransientError(message or f"QuickBooks answered HTTP {http_status}", **fields)
    return QboPermanentError(message, **fields)
