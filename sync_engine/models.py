"""Sync runs, what happened to each record in them, and every exchange with QuickBooks."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from quickbooks_link.models import ExternalLink, QboEntity


class Entity(models.TextChoices):
    """The kinds of record a sync moves, in the order a full sync handles them."""

    ACCOUNT = "account", "Accounts"
    ITEM = "item", "Items"
    TAX_CODE = "tax_code", "Tax codes"
    CLASS = "class", "Classes"
    TENANT = "tenant", "Tenants"
    INVOICE = "invoice", "Invoices"
    CREDIT_NOTE = "credit_note", "Credit notes"
    PAYMENT = "payment", "Payments"


# The app records that have a QuickBooks twin: their field on ExternalLink, their QuickBooks entity.
RECORD_LINKS = {
    Entity.TENANT: ("tenant", QboEntity.CUSTOMER),
    Entity.INVOICE: ("invoice", QboEntity.INVOICE),
    Entity.CREDIT_NOTE: ("credit_note", QboEntity.CREDIT_MEMO),
    Entity.PAYMENT: ("payment", QboEntity.PAYMENT),
}


def record_model(entity: str) -> type[models.Model]:
    """The app model behind an entity with a QuickBooks twin (read off ExternalLink's field)."""
    return ExternalLink._meta.get_field(RECORD_LINKS[entity][0]).related_model


class Direction(models.TextChoices):
    OUTGOING = "outgoing", "Outgoing"
    INCOMING = "incoming", "Incoming"


class SyncRun(models.Model):
    class Trigger(models.TextChoices):
        AUTOMATIC = "automatic", "Automatic"
        ON_DEMAND = "on_demand", "On demand"
        MANUAL = "manual", "Manual"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        SUCCEEDED_WITH_ERRORS = "succeeded_with_errors", "Succeeded with errors"
        FAILED = "failed", "Failed"

    ACTIVE = (Status.QUEUED, Status.RUNNING)
    FINISHED = (Status.SUCCEEDED, Status.SUCCEEDED_WITH_ERRORS, Status.FAILED)
    # Allowed moves; every status change is a compare-and-set along one of these.
    ALLOWED = {
        Status.QUEUED: {Status.RUNNING, Status.FAILED},
        Status.RUNNING: {Status.SUCCEEDED, Status.SUCCEEDED_WITH_ERRORS, Status.FAILED},
    }

    class ErrorKind(models.TextChoices):
        NONE = "", "None"
        TRANSIENT = "transient", "Transient (QuickBooks or network unavailable)"
        AUTH = "auth", "Authorisation (needs reconnecting)"
        PERMANENT = "permanent", "Permanent"
        TIMEOUT = "timeout", "Stopped heart-beating"
        WORKER_LOST = "worker_lost", "Worker lost"

    company = models.ForeignKey("companies.Company", models.CASCADE, related_name="sync_runs")
    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # A full run syncs everything that changed; an on-demand run syncs one record.
    record_entity = models.CharField(max_length=20, choices=Entity.choices, blank=True)
    record_id = models.BigIntegerField(null=True, blank=True)

    status = models.CharField(max_length=25, choices=Status.choices, default=Status.QUEUED)
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error_kind = models.CharField(max_length=20, choices=ErrorKind.choices, blank=True)
    error_message = models.CharField(max_length=1000, blank=True)
    worker = models.CharField(max_length=200, blank=True, help_text="host and pid that ran it")

    class Meta:
        ordering = ["-queued_at", "-pk"]
        constraints = [
            # At most one waiting and one running full run per company: a burst of requests
            # merges into the queued run, and two workers can never run one company at once.
            models.UniqueConstraint(
                fields=["company"],
                condition=Q(status="queued", record_entity=""),
                name="one_queued_full_run_per_company",
            ),
            models.UniqueConstraint(
                fields=["company"],
                condition=Q(status="running", record_entity=""),
                name="one_running_full_run_per_company",
            ),
            # Repeated saves of one record coalesce into one waiting on-demand run.
            models.UniqueConstraint(
                fields=["company", "record_entity", "record_id"],
                condition=Q(status="queued") & ~Q(record_entity=""),
                name="one_queued_run_per_record",
            ),
            models.CheckConstraint(
                condition=Q(record_entity="", record_id__isnull=True)
                | (~Q(record_entity="") & Q(record_id__isnull=False)),
                name="record_run_names_its_record",
            ),
        ]
        indexes = [
            models.Index(fields=["company", "status"]),
            models.Index(fields=["status", "heartbeat_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_trigger_display()} sync of {self.company} ({self.get_status_display()})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def is_full(self) -> bool:
        return not self.record_entity

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class SyncRunProgress(models.Model):
    """Per-entity counters of one run; updated with F() increments while the run goes."""

    run = models.ForeignKey(SyncRun, models.CASCADE, related_name="progress")
    entity = models.CharField(max_length=20, choices=Entity.choices)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["pk"]
        verbose_name_plural = "sync run progress"
        constraints = [
            models.UniqueConstraint(fields=["run", "entity"], name="one_progress_row_per_entity"),
        ]

    def __str__(self) -> str:
        return f"{self.get_entity_display()} {self.done} / {self.total}"


class SyncItemResult(models.Model):
    """What happened to one record in one run: the rows of the Sync Results page."""

    class Outcome(models.TextChoices):
        CREATED = "created", "Created"
        UPDATED = "updated", "Updated"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"

    class Resolution(models.TextChoices):
        NONE = "", "Open"
        MANUAL = "manual", "Resolved by a person"
        SUPERSEDED = "superseded", "Replaced by a later attempt"
        UNLINKED = "unlinked", "The record was unlinked"

    run = models.ForeignKey(SyncRun, models.CASCADE, related_name="results")
    company = models.ForeignKey("companies.Company", models.CASCADE, related_name="+")
    entity = models.CharField(max_length=20, choices=Entity.choices)
    record_id = models.BigIntegerField(null=True, blank=True)
    record_label = models.CharField(max_length=200, help_text="e.g. the invoice number")
    qbo_id = models.CharField(max_length=40, blank=True)
    direction = models.CharField(max_length=10, choices=Direction.choices)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    attempted_at = models.DateTimeField(auto_now_add=True)

    error_code = models.CharField(max_length=20, blank=True)
    message = models.CharField(max_length=500, blank=True)
    detail = models.TextField(blank=True)
    explanation = models.TextField(blank=True, help_text="What went wrong, in plain words.")
    suggested_fix = models.TextField(blank=True)

    resolution = models.CharField(max_length=12, choices=Resolution.choices, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-attempted_at", "-pk"]
        indexes = [
            models.Index(fields=["company", "-attempted_at"]),
            models.Index(fields=["company", "entity", "record_id"]),
            models.Index(
                fields=["company"],
                condition=Q(outcome="failed", resolved_at__isnull=True),
                name="open_errors_by_company",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True, resolution="")
                | (Q(resolved_at__isnull=False) & ~Q(resolution="")),
                name="resolution_has_a_time_and_a_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_entity_display()} {self.record_label}: {self.get_outcome_display()}"

    @property
    def is_open_error(self) -> bool:
        return self.outcome == self.Outcome.FAILED and self.resolved_at is None


class SyncMessage(models.Model):
    """The message log: one row per exchange with QuickBooks. Never holds a token or secret."""

    class Outcome(models.TextChoices):
        OK = "ok", "OK"
        RETRY = "retry", "Will retry"
        ERROR = "error", "Error"

    created_at = models.DateTimeField(auto_now_add=True)
    company = models.ForeignKey("companies.Company", models.CASCADE, related_name="+")
    run = models.ForeignKey(SyncRun, models.SET_NULL, null=True, blank=True, related_name="+")
    entity = models.CharField(max_length=20, choices=Entity.choices, blank=True)
    record_id = models.BigIntegerField(null=True, blank=True)
    record_label = models.CharField(max_length=200, blank=True)
    qbo_id = models.CharField(max_length=40, blank=True)
    direction = models.CharField(max_length=10, choices=Direction.choices)
    operation = models.CharField(max_length=30, help_text="create, update, void, query, cdc, …")
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    request_id = models.CharField(max_length=100, blank=True, help_text="QuickBooks intuit_tid")
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    text = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["company", "-created_at"]),
            models.Index(fields=["company", "entity", "record_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.operation} {self.entity} {self.record_label}: {self.outcome}"
