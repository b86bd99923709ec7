"""The incoming side of a run: reference data for mapping, and what people changed in QuickBooks.

`pull_changes`, step by step:
1. Note when the pull started. Read what changed since `connection.last_pulled_at`: change data
   capture when that is within CDC's 30-day look-back, else paged queries on
   MetaData.LastUpdatedTime (also used when a CDC answer hit its 1000-object cap).
2. Per QuickBooks entity, load the links of every changed id in one query and drop the rows
   whose SyncToken is the link's: those are our own writes coming back.
3. Customers edited in QuickBooks update their tenants (queryset updates: no post_save, so no
   outgoing sync is triggered), payments recorded in QuickBooks against our invoices become app
   payments, and edits, voids and deletes of our invoices and credit memos become issues on the
   record. Every database change is a short transaction of its own; QuickBooks is never called
   inside one.
4. Move `last_pulled_at` to the start time less a safety margin, by compare-and-set, so two
   runs can never move it backwards.
"""

from __future__ import annotations

import datetime

from django.db.models import Q
from django.utils import timezone

from quickbooks_link.models import QboEntity, QuickBooksConnection
from sync_engine.engine.context import RunContext
from sync_engine.engine.pull.common import PULLED, SAFETY_MARGIN, read_changes, unique_by_id
from sync_engine.engine.pull.customers import pull_customers
from sync_engine.engine.pull.documents import pull_documents
from sync_engine.engine.pull.payments import pull_payments
from sync_engine.engine.pull.reference import pull_reference_data

__all__ = ["PULLED", "SAFETY_MARGIN", "pull_changes", "pull_reference_data"]

# --- Public entry points -------------------------------------------------------------------------


def pull_changes(ctx: RunContext) -> None:
    """Bring in what people changed in QuickBooks since the last pull (see the module docstring)."""
    started = timezone.now()
    since = (
        QuickBooksConnection.objects.filter(pk=ctx.connection.pk)
        .values_list("last_pulled_at", flat=True)
        .get()
    )
    changes = read_changes(ctx, since, started)
    rows = {entity: unique_by_id(changes.get(entity, [])) for entity in PULLED}
    pull_customers(ctx, rows[QboEntity.CUSTOMER])
    pull_payments(ctx, rows[QboEntity.PAYMENT])
    pull_documents(ctx, QboEntity.INVOICE, rows[QboEntity.INVOICE])
    pull_documents(ctx, QboEntity.CREDIT_MEMO, rows[QboEntity.CREDIT_MEMO])
    _advance_last_pulled(ctx.connection, started - SAFETY_MARGIN)


def _advance_last_pulled(connection: QuickBooksConnection, moment: datetime.datetime) -> bool:
    """Compare-and-set: only ever forwards, so a slow run can't undo a faster one's progress."""
    moved = QuickBooksConnection.objects.filter(
        Q(last_pulled_at__isnull=True) | Q(last_pulled_at__lt=moment), pk=connection.pk
    ).update(last_pulled_at=moment)
    if moved:
        connection.last_pulled_at = moment
    return bool(moved)
