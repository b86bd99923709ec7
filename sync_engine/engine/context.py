"""What every phase of a run shares: the QuickBooks client, the message log, results, progress."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from quickbooks_link.client import Exchange, QboApi
from quickbooks_link.errors import QboAuthError, QboError, QboTimeoutError, QboTransientError
from quickbooks_link.models import QuickBooksConnection
from quickbooks_link.tokens import connection_api
from sync_engine.models import Direction, SyncItemResult, SyncMessage, SyncRun, SyncRunProgress
from sync_engine.services import sync_run_heartbeat

T = TypeVar("T")


def _heartbeat_seconds() -> float:
    # Several beats fit in the reaper's patience, however short it is configured.
    return max(1.0, min(15.0, settings.SYNC_RUN_STALE_AFTER / 4))


OUTCOME_COUNTER = {
    SyncItemResult.Outcome.CREATED: "created",
    SyncItemResult.Outcome.UPDATED: "updated",
    SyncItemResult.Outcome.SKIPPED: "skipped",
    SyncItemResult.Outcome.FAILED: "failed",
}


@dataclass(frozen=True)
class Subject:
    """Which record an exchange or a result is about."""

    entity: str
    record_id: int | None = None
    label: str = ""
    qbo_id: str = ""
    direction: str = Direction.OUTGOING


@dataclass
class RunContext:
    run: SyncRun
    connection: QuickBooksConnection
    api: QboApi | None = None
    failed: int = 0
    _last_beat: float = field(default_factory=time.monotonic)

    @property
    def company(self):
        return self.run.company

    def qbo(
        self, operation: Callable[[QboApi], T], *, subject: Subject, name: str, write: bool = False
    ) -> T:
        """One operation against QuickBooks, written to the message log.

        A 401 refreshes the token once. Transient failures are retried a bounded number of times
        with exponential backoff and jitter; writes are safe to repeat because they carry a
        requestid, except after a timeout: QuickBooks may still be working on that request, so
        the write is left to the reconciliation of a later attempt instead.
        """
        retries = settings.SYNC_TRANSIENT_RETRIES
        for attempt in range(retries + 1):
            try:
                return self._once(operation, subject, name)
            except QboTimeoutError:
                if write or attempt == retries:
                    raise
            except QboTransientError:
                if attempt == retries:
                    raise
            time.sleep(min(2**attempt, 20) * (0.5 + random.random()))  # noqa: S311
        raise AssertionError("unreachable")

    def _once(self, operation: Callable[[QboApi], T], subject: Subject, name: str) -> T:
        self._beat()
        if self.api is None:
            self.api = connection_api(connection=self.connection)
        try:
            return self._logged(operation, subject, name)
        except QboAuthError:
            self.api = connection_api(connection=self.connection, force_refresh=True)
            return self._logged(operation, subject, name)

    def _logged(self, operation, subject: Subject, name: str):
        seen = len(self.api.exchanges)
        try:
            result = operation(self.api)
        except QboError as exc:
            answered = self.api.exchanges[seen:]
            # A timeout or a dropped connection has no answer: it is logged all the same.
            self._log(answered, subject, name, error=exc, lost=not answered)
            raise
        except Exception as exc:  # timeouts and dropped connections: logged, then classified
            self._log(self.api.exchanges[seen:], subject, name, error=exc, lost=True)
            raise
        self._log(self.api.exchanges[seen:], subject, name)
        return result

    def _log(self, exchanges: list[Exchange], subject, name, *, error=None, lost=False) -> None:
        rows = [self._message(subject, name, exchange, error) for exchange in exchanges]
        if lost and not exchanges:
            rows.append(self._message(subject, name, None, error))
        SyncMessage.objects.bulk_create(rows)

    def _message(
        self, subject: Subject, name: str, exchange: Exchange | None, error
    ) -> SyncMessage:
        status = exchange.status if exchange else None
        if status is not None and status < 400 and error is None:
            outcome, text = SyncMessage.Outcome.OK, "OK"
        elif status == 429 or status is None or status >= 500:
            outcome, text = SyncMessage.Outcome.RETRY, _short(error) or f"HTTP {status}"
        else:
            outcome, text = SyncMessage.Outcome.ERROR, _short(error) or f"HTTP {status}"
        return SyncMessage(
            company_id=self.run.company_id,
            run=self.run,
            entity=subject.entity,
            record_id=subject.record_id,
            record_label=subject.label[:200],
            qbo_id=subject.qbo_id,
            direction=subject.direction,
            operation=name,
            http_status=status,
            request_id=exchange.intuit_tid if exchange else "",
            outcome=outcome,
            text=text[:500],
        )

    def _beat(self) -> None:
        if time.monotonic() - self._last_beat > _heartbeat_seconds():
            sync_run_heartbeat(self.run)
            self._last_beat = time.monotonic()

    def begin(self, entity: str, total: int) -> None:
        """Announce how many records of an entity this run will handle (for the progress bars)."""
        # Adds: the pull and the push of one entity (and an archiving pass) share a progress row.
        progress, created = SyncRunProgress.objects.get_or_create(
            run=self.run, entity=entity, defaults={"total": total}
        )
        if not created:
            SyncRunProgress.objects.filter(pk=progress.pk).update(total=F("total") + total)

    def record(
        self,
        subject: Subject,
        outcome: str,
        *,
        error: QboError | None = None,
        code: str = "",
        message: str = "",
        explanation: str = "",
        fix: str = "",
    ) -> SyncItemResult:
        """Write what happened to one record, count it, and close its older errors if it worked."""
        result = SyncItemResult.objects.create(
            run=self.run,
            company_id=self.run.company_id,
            entity=subject.entity,
            record_id=subject.record_id,
            record_label=subject.label[:200],
            qbo_id=subject.qbo_id,
            direction=subject.direction,
            outcome=outcome,
            error_code=(error.code if error else code)[:20],
            message=(error.message if error else message)[:500],
            detail=error.detail if error else "",
            explanation=explanation,
            suggested_fix=fix,
        )
        counter = OUTCOME_COUNTER[outcome]
        SyncRunProgress.objects.filter(run=self.run, entity=subject.entity).update(
            done=F("done") + 1, **{counter: F(counter) + 1}
        )
        if outcome == SyncItemResult.Outcome.FAILED:
            self.failed += 1
        # The latest attempt speaks for the record: an older open error is replaced by it,
        # whether it worked or failed again (one open error per record, not one per attempt).
        if subject.record_id is not None:
            _resolve_superseded(self.run.company_id, subject, before=result.pk)
        return result


def _resolve_superseded(company_id: int, subject: Subject, *, before: int) -> None:
    # Only errors in the same direction: a customer edit coming in says nothing about whether
    # the last attempt to send that tenant out has been fixed.
    SyncItemResult.objects.filter(
        company_id=company_id,
        entity=subject.entity,
        record_id=subject.record_id,
        direction=subject.direction,
        outcome=SyncItemResult.Outcome.FAILED,
        resolved_at__isnull=True,
        pk__lt=before,
    ).update(resolved_at=timezone.now(), resolution=SyncItemResult.Resolution.SUPERSEDED)


def _short(error) -> str:
    if error is None:
        return ""
    if isinstance(error, QboError):
        return f"{error.code} {error.message}".strip()
    return f"{type(error).__name__}: {error}"
