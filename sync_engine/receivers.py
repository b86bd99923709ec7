"""Signal receivers: one line each, calling a service."""

from __future__ import annotations

from django.db.models.signals import post_save
from django.dispatch import receiver

from companies.models import CreditNote, Invoice
from quickbooks_link.onboarding import onboarding_completed
from sync_engine.models import Entity, SyncRun
from sync_engine.services import document_saved, sync_run_request


@receiver(onboarding_completed)
def start_first_sync(sender, connection, user, **kwargs):
    sync_run_request(company=connection.company, trigger=SyncRun.Trigger.MANUAL, requested_by=user)


# The engine writes its own state with QuerySet.update() (which sends no signal), so a save seen
# here is always a person's (or an import's): it can never loop back from a sync.
@receiver(post_save, sender=Invoice, dispatch_uid="sync_saved_invoice")
def invoice_saved(sender, instance, **kwargs):
    document_saved(document=instance, entity=Entity.INVOICE)


@receiver(post_save, sender=CreditNote, dispatch_uid="sync_saved_credit_note")
def credit_note_saved(sender, instance, **kwargs):
    document_saved(document=instance, entity=Entity.CREDIT_NOTE)
