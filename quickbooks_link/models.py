"""The link between a company and its QuickBooks Online company (realm), and between records.

`QuickBooksConnection` holds the OAuth state for one company. `ExternalLink` ties one app record to
the QuickBooks object it became, remembering what was last sent so unchanged records are skipped.
"""

from __future__ import annotations

import builtins
import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from quickbooks_link.fields import EncryptedTextField

EARLIEST_SYNC_FROM = datetime.date(2018, 1, 1)


class QuickBooksConnection(models.Model):
    """One company's connection to one QuickBooks realm.

    The realm is fixed once set: a company's books must never be pointed at another QuickBooks
    company, so reconnecting has to pick the same realm. Tokens are encrypted at rest.
    `token_generation` is bumped on every token write; refreshes compare-and-set on it so that
    concurrent workers never overwrite a newer rotated refresh token with an older one.
    """

    company = models.OneToOneField(
        "companies.Company", models.CASCADE, related_name="qbo_connection"
    )
    realm_id = models.CharField(max_length=32, blank=True, editable=False)

    access_token = EncryptedTextField(blank=True, editable=False)
    refresh_token = EncryptedTextField(blank=True, editable=False)
    token_generation = models.PositiveIntegerField(default=0, editable=False)
    access_token_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    refresh_token_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    refresh_token_hard_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    # A short lease taken (by compare-and-set) by the one worker refreshing the tokens; the others
    # wait for its result instead of racing it with a refresh token it is about to supersede.
    token_refresh_lease_until = models.DateTimeField(null=True, blank=True, editable=False)

    connected_at = models.DateTimeField(null=True, blank=True)
    connected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )
    disconnected_at = models.DateTimeField(null=True, blank=True)
    reconnect_required_at = models.DateTimeField(null=True, blank=True)
    reconnect_reason = models.CharField(max_length=300, blank=True)

    onboarding_progress = models.JSONField(
        default=dict, blank=True, help_text="Onboarding step name → ISO time the admin saved it."
    )
    onboarded_at = models.DateTimeField(null=True, blank=True)
    sync_from_date = models.DateField(null=True, blank=True)

    qbo_company_name = models.CharField(max_length=200, blank=True)
    qbo_country = models.CharField(max_length=2, blank=True)
    qbo_currency = models.CharField(max_length=3, blank=True)
    qbo_preferences = models.JSONField(
        default=dict,
        blank=True,
        help_text="custom_txn_numbers, class_tracking, multicurrency, closing_date as last read.",
    )
    last_pulled_at = models.DateTimeField(
        null=True, blank=True, help_text="Changes made in QuickBooks are read from here on."
    )
    pushed_through = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Records changed before this were sent by a completed sync; empty: send all.",
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "QuickBooks connection"
        constraints = [
            # One QuickBooks company feeds one company's books, never two.
            models.UniqueConstraint(
                fields=["realm_id"], condition=~Q(realm_id=""), name="realm_linked_once"
            ),
            models.CheckConstraint(
                condition=Q(sync_from_date__isnull=True)
                | Q(sync_from_date__gte=EARLIEST_SYNC_FROM),
                name="sync_from_not_before_2018",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.company} ↔ {self.qbo_company_name or self.realm_id or 'not connected'}"

    @property
    def is_connected(self) -> bool:
        return self.connected_at is not None

    def clean(self) -> None:
        if self.sync_from_date is None:
            return
        if self.sync_from_date < EARLIEST_SYNC_FROM:
            raise ValidationError({"sync_from_date": "The Sync From date cannot be before 2018."})
        if self.sync_from_date > timezone.localdate():
            raise ValidationError({"sync_from_date": "The Sync From date cannot be in the future."})


class QboEntity(models.TextChoices):
    CUSTOMER = "Customer"
    INVOICE = "Invoice"
    CREDIT_MEMO = "CreditMemo"
    PAYMENT = "Payment"
    ITEM = "Item"
    TAX_CODE = "TaxCode"
    CLASS = "Class"
    ACCOUNT = "Account"


# Which app record each kind of link points at. Exactly one of these foreign keys is set, and it
# must match the link's QuickBooks entity; a check constraint below enforces both.
LINK_RECORD_FIELDS = {
    QboEntity.CUSTOMER: "tenant",
    QboEntity.INVOICE: "invoice",
    QboEntity.CREDIT_MEMO: "credit_note",
    QboEntity.PAYMENT: "payment",
    QboEntity.ITEM: "charge_code",
    QboEntity.TAX_CODE: "tax_rate",
    QboEntity.CLASS: "property",
}
# Transactions and customers are one-to-one with QuickBooks objects; reference data is a mapping
# (two tax rates may both map to the QuickBooks code "NON").
ONE_TO_ONE_ENTITIES = [
    QboEntity.CUSTOMER,
    QboEntity.INVOICE,
    QboEntity.CREDIT_MEMO,
    QboEntity.PAYMENT,
]


def _exactly_the_matching_record() -> Q:
    condition = Q()
    for entity, field in LINK_RECORD_FIELDS.items():
        others = {
            f"{other}__isnull": True for other in LINK_RECORD_FIELDS.values() if other != field
        }
        condition |= Q(qbo_entity=entity, **{f"{field}__isnull": False}, **others)
    return condition


class ExternalLink(models.Model):
    """One app record ↔ the QuickBooks object it was sent as (or mapped to).

    A link is written *before* the first create call, with an empty `qbo_id` and the request id
    in `pending_request_id`: that durable intent is what lets a crashed or timed-out push be
    reconciled instead of creating a duplicate.
    """

    company = models.ForeignKey("companies.Company", models.CASCADE, related_name="qbo_links")
    qbo_entity = models.CharField(max_length=20, choices=QboEntity.choices)
    qbo_id = models.CharField(max_length=40, blank=True)
    sync_token = models.CharField(max_length=20, blank=True)
    fingerprint = models.CharField(
        max_length=64, blank=True, help_text="Hash of the payload last accepted by QuickBooks."
    )
    last_synced_at = models.DateTimeField(null=True, blank=True)

    # A credit memo is applied to its invoice by a separate QuickBooks Payment (TotalAmt 0).
    allocation_qbo_id = models.CharField(max_length=40, blank=True)
    allocation_sync_token = models.CharField(max_length=20, blank=True)

    pending_request_id = models.CharField(max_length=50, blank=True)
    pending_fingerprint = models.CharField(max_length=64, blank=True)
    pending_since = models.DateTimeField(null=True, blank=True)

    unlinked_at = models.DateTimeField(null=True, blank=True)
    unlinked_reason = models.CharField(max_length=500, blank=True)
    unlinked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, models.SET_NULL, null=True, blank=True, related_name="+"
    )

    tenant = models.OneToOneField(
        "companies.Tenant", models.CASCADE, null=True, blank=True, related_name="qbo_link"
    )
    invoice = models.OneToOneField(
        "companies.Invoice", models.CASCADE, null=True, blank=True, related_name="qbo_link"
    )
    credit_note = models.OneToOneField(
        "companies.CreditNote", models.CASCADE, null=True, blank=True, related_name="qbo_link"
    )
    payment = models.OneToOneField(
        "companies.Payment", models.CASCADE, null=True, blank=True, related_name="qbo_link"
    )
    charge_code = models.OneToOneField(
        "companies.ChargeCode", models.CASCADE, null=True, blank=True, related_name="qbo_link"
    )
    tax_rate = models.OneToOneField(
        "companies.TaxRate", models.CASCADE, null=True, blank=True, related_name="qbo_link"
    )
    property = models.OneToOneField(
        "companies.Property", models.CASCADE, null=True, blank=True, related_name="qbo_link"
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=_exactly_the_matching_record(), name="link_points_at_one_matching_record"
            ),
            models.UniqueConstraint(
                fields=["company", "qbo_entity", "qbo_id"],
                condition=~Q(qbo_id="") & Q(qbo_entity__in=ONE_TO_ONE_ENTITIES),
                name="qbo_object_linked_once",
            ),
        ]
        indexes = [
            models.Index(fields=["company", "qbo_entity", "qbo_id"]),
            # Pending intents are few and every run looks for them.
            models.Index(
                fields=["company"],
                condition=Q(pending_since__isnull=False),
                name="pending_links_by_company",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.qbo_entity} {self.qbo_id or '(pending)'} ↔ {self.record}"

    @builtins.property  # the "property" field shadows the builtin in this class body
    def record_field(self) -> str:
        return LINK_RECORD_FIELDS[QboEntity(self.qbo_entity)]

    @builtins.property
    def record(self) -> models.Model:
        return getattr(self, self.record_field)

    @builtins.property
    def is_unlinked(self) -> bool:
        return self.unlinked_at is not None


class QboReferenceRecord(models.Model):
    """Reference data read from QuickBooks (accounts, items, tax codes, classes, terms) for mapping."""

    company = models.ForeignKey("companies.Company", models.CASCADE, related_name="qbo_references")
    qbo_entity = models.CharField(max_length=20)
    qbo_id = models.CharField(max_length=40)
    name = models.CharField(max_length=500)
    active = models.BooleanField(default=True)
    data = models.JSONField(default=dict, blank=True)
    refreshed_at = models.DateTimeField()

    class Meta:
        ordering = ["qbo_entity", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["company", "qbo_entity", "qbo_id"], name="qbo_reference_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.qbo_entity} {self.name}"


class ApiPermit(models.Model):
    """One request to QuickBooks, for the database limiter (used when there is no Redis)."""

    realm_id = models.CharField(max_length=32)
    token = models.CharField(max_length=32, unique=True)
    batch = models.BooleanField(default=False)
    lease_until = models.DateTimeField(null=True, help_text="set while the request is in flight")
    done_at = models.DateTimeField(null=True, help_text="when its answer came")

    class Meta:
        indexes = [
            models.Index(fields=["realm_id", "done_at"]),
            models.Index(fields=["realm_id", "lease_until"]),
        ]

    def __str__(self) -> str:
        return f"{self.realm_id} {self.token}"

    @staticmethod
    def lock_realm(realm_id: str) -> None:
        """Serialise permit decisions for one realm until the transaction ends.

        SQLite serialises write transactions already (IMMEDIATE mode); PostgreSQL needs a lock.
        """
        from django.db import connection

        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"qbo:{realm_id}"])
