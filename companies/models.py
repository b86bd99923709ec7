"""The property-management side: groups, companies, people and their financial documents.

This app knows nothing about QuickBooks or syncing; those apps depend on it, never the reverse.
Money is Decimal with two places. Document totals are stored for listing and sync comparisons,
and always recomputed from the lines by `companies.services.document_totals_refresh`.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Round

from companies import validators

CENT = Decimal("0.01")


def money_field(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=14, decimal_places=2, **kwargs)


def round_money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


class Group(models.Model):
    """A portfolio organisation: the unit of access. Users see only their group's companies."""

    name = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Company(models.Model):
    group = models.ForeignKey(Group, models.CASCADE, related_name="companies")
    name = models.CharField(max_length=200)
    base_currency = models.CharField(
        max_length=3, default="USD", validators=[validators.currency_code]
    )
    timezone = models.CharField(
        max_length=64, default="America/New_York", validators=[validators.timezone_name]
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "companies"
        constraints = [
            models.UniqueConstraint(fields=["group", "name"], name="company_name_unique_in_group"),
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        PROPERTY_MANAGER = "property_manager", "Property manager"
        FINANCE_ADMIN = "finance_admin", "Finance admin"
        OPS = "ops", "Ops staff"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, models.CASCADE, related_name="memberships")
    group = models.ForeignKey(Group, models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "group"], name="one_membership_per_group"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.group} ({self.get_role_display()})"


class Property(models.Model):
    company = models.ForeignKey(Company, models.CASCADE, related_name="properties")
    name = models.CharField(max_length=100, validators=[validators.display_name])
    address = models.CharField(max_length=300, blank=True)
    city = models.CharField(max_length=100, blank=True)
    postcode = models.CharField(max_length=20, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "properties"
        constraints = [
            models.UniqueConstraint(
                fields=["company", "name"], name="property_name_unique_in_company"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Tenant(models.Model):
    """A contact who is billed; it becomes a QuickBooks Customer."""

    company = models.ForeignKey(Company, models.CASCADE, related_name="tenants")
    property = models.ForeignKey(
        Property, models.SET_NULL, null=True, blank=True, related_name="tenants"
    )
    name = models.CharField(max_length=200, validators=[validators.display_name])
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=30, blank=True)
    billing_address = models.CharField(max_length=300, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["company", "updated_at"])]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.property_id and self.property.company_id != self.company_id:
            raise ValidationError({"property": "This property belongs to another company."})


class TaxRate(models.Model):
    """A sales-tax rate charged on lines; maps to a QuickBooks TaxCode."""

    company = models.ForeignKey(Company, models.CASCADE, related_name="tax_rates")
    name = models.CharField(max_length=100)
    rate = models.DecimalField(
        max_digits=6,
        decimal_places=3,
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))],
        help_text="Percent, e.g. 8.875",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["company", "name"], name="tax_rate_name_unique"),
            models.CheckConstraint(
                condition=Q(rate__gte=0, rate__lte=100), name="tax_rate_is_a_percentage"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.rate.normalize()}%)"


class ChargeCode(models.Model):
    """What a line charges for (rent, service charge, parking); maps to a QuickBooks Item."""

    company = models.ForeignKey(Company, models.CASCADE, related_name="charge_codes")
    code = models.CharField(max_length=20)
    name = models.CharField(max_length=100, validators=[validators.display_name])
    default_tax_rate = models.ForeignKey(TaxRate, models.SET_NULL, null=True, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["company", "code"], name="charge_code_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class DocumentStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    APPROVED = "approved", "Approved"
    VOID = "void", "Void"


class Document(models.Model):
    """What invoices and credit notes share: a numbered, dated, tenant-facing list of lines."""

    Status = DocumentStatus

    company = models.ForeignKey(Company, models.CASCADE, related_name="+")
    number = models.CharField(
        max_length=21, help_text="At most 21 characters, as QuickBooks allows for DocNumber."
    )
    tenant = models.ForeignKey(Tenant, models.PROTECT, null=True, blank=True, related_name="+")
    property = models.ForeignKey(Property, models.SET_NULL, null=True, blank=True, related_name="+")
    issue_date = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    currency = models.CharField(max_length=3, validators=[validators.currency_code])
    memo = models.CharField(max_length=1000, blank=True)
    subtotal = money_field(default=Decimal("0.00"), editable=False)
    tax_total = money_field(default=Decimal("0.00"), editable=False)
    total = money_field(default=Decimal("0.00"), editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["-issue_date", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["company", "number"], name="%(class)s_number_unique"),
            models.CheckConstraint(condition=~Q(number=""), name="%(class)s_has_number"),
            models.CheckConstraint(
                condition=Q(subtotal__gte=0, tax_total__gte=0),
                name="%(class)s_amounts_not_negative",
            ),
            # Rounded because SQLite keeps decimals as binary floats: 3637.50 + 141.86 is not
            # exactly 3779.36 there. On PostgreSQL the sum is exact and rounding changes nothing.
            models.CheckConstraint(
                condition=Q(total=Round(F("subtotal") + F("tax_total"), 2)),
                name="%(class)s_total_is_sum",
            ),
            models.CheckConstraint(
                condition=~Q(status=DocumentStatus.APPROVED) | Q(tenant__isnull=False),
                name="%(class)s_approved_has_tenant",
            ),
        ]
        indexes = [models.Index(fields=["company", "updated_at"])]

    def __str__(self) -> str:
        return self.number

    def clean(self) -> None:
        errors = {}
        if self.tenant_id and self.tenant.company_id != self.company_id:
            errors["tenant"] = "This tenant belongs to another company."
        if self.property_id and self.property.company_id != self.company_id:
            errors["property"] = "This property belongs to another company."
        if self.status == DocumentStatus.APPROVED and not self.tenant_id:
            errors["tenant"] = "An approved document needs a tenant."
        if errors:
            raise ValidationError(errors)


class DocumentLine(models.Model):
    charge_code = models.ForeignKey(ChargeCode, models.PROTECT, related_name="+")
    description = models.CharField(max_length=4000, blank=True)
    quantity = models.DecimalField(max_digits=12, decimal_places=3, default=Decimal("1.000"))
    unit_amount = money_field()
    tax_rate = models.ForeignKey(TaxRate, models.PROTECT, null=True, blank=True, related_name="+")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        abstract = True
        ordering = ["position", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="%(class)s_quantity_positive"),
            models.CheckConstraint(
                condition=Q(unit_amount__gte=0), name="%(class)s_unit_amount_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity.normalize()} × {self.charge_code} at {self.unit_amount}"

    @property
    def amount(self) -> Decimal:
        return round_money(self.quantity * self.unit_amount)

    @property
    def tax_amount(self) -> Decimal:
        if self.tax_rate is None:
            return Decimal("0.00")
        return round_money(self.amount * self.tax_rate.rate / 100)

    def clean(self) -> None:
        errors = {}
        if self.quantity is not None and self.quantity <= 0:
            errors["quantity"] = "Quantity must be more than zero."
        if self.unit_amount is not None and self.unit_amount < 0:
            errors["unit_amount"] = "Unit amount cannot be negative."
        company_id = self.document.company_id if self.document_id else None
        if self.charge_code_id and company_id and self.charge_code.company_id != company_id:
            errors["charge_code"] = "This charge code belongs to another company."
        if self.tax_rate_id and company_id and self.tax_rate.company_id != company_id:
            errors["tax_rate"] = "This tax rate belongs to another company."
        if errors:
            raise ValidationError(errors)


class Invoice(Document):
    due_date = models.DateField()

    class Meta(Document.Meta):
        constraints = [
            *Document.Meta.constraints,
            models.CheckConstraint(
                condition=Q(due_date__gte=F("issue_date")), name="invoice_due_after_issue"
            ),
        ]

    def clean(self) -> None:
        super().clean()
        if self.due_date and self.issue_date and self.due_date < self.issue_date:
            raise ValidationError({"due_date": "The due date cannot be before the issue date."})


class InvoiceLine(DocumentLine):
    invoice = models.ForeignKey(Invoice, models.CASCADE, related_name="lines")

    @property
    def document(self) -> Invoice:
        return self.invoice

    @property
    def document_id(self) -> int | None:
        return self.invoice_id


class CreditNote(Document):
    """A credit to a tenant, optionally allocated in full to one of their invoices."""

    allocated_invoice = models.ForeignKey(
        Invoice, models.PROTECT, null=True, blank=True, related_name="credit_notes"
    )

    def clean(self) -> None:
        super().clean()
        invoice = self.allocated_invoice
        if invoice is not None and (
            invoice.company_id != self.company_id or invoice.tenant_id != self.tenant_id
        ):
            raise ValidationError(
                {
                    "allocated_invoice": "A credit can only be allocated to the same tenant's invoice."
                }
            )


class CreditNoteLine(DocumentLine):
    credit_note = models.ForeignKey(CreditNote, models.CASCADE, related_name="lines")

    @property
    def document(self) -> CreditNote:
        return self.credit_note

    @property
    def document_id(self) -> int | None:
        return self.credit_note_id


class Payment(models.Model):
    """Money received from a tenant, allocated to their invoices. It may originate in QuickBooks."""

    class Method(models.TextChoices):
        BANK_TRANSFER = "bank_transfer", "Bank transfer"
        CHECK = "check", "Check"
        CARD = "card", "Card"
        CASH = "cash", "Cash"
        OTHER = "other", "Other"

    class Origin(models.TextChoices):
        APP = "app", "Recorded here"
        QUICKBOOKS = "quickbooks", "Recorded in QuickBooks"

    company = models.ForeignKey(Company, models.CASCADE, related_name="payments")
    tenant = models.ForeignKey(Tenant, models.PROTECT, related_name="payments")
    received_on = models.DateField()
    amount = money_field()
    currency = models.CharField(max_length=3, validators=[validators.currency_code])
    method = models.CharField(max_length=20, choices=Method.choices, default=Method.BANK_TRANSFER)
    reference = models.CharField(max_length=100, blank=True)
    origin = models.CharField(max_length=20, choices=Origin.choices, default=Origin.APP)
    voided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-received_on", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
        ]
        indexes = [models.Index(fields=["company", "updated_at"])]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} from {self.tenant} on {self.received_on}"

    def clean(self) -> None:
        if self.amount is not None and self.amount <= 0:
            raise ValidationError({"amount": "A payment must be more than zero."})
        if self.tenant_id and self.tenant.company_id != self.company_id:
            raise ValidationError({"tenant": "This tenant belongs to another company."})


class PaymentAllocation(models.Model):
    payment = models.ForeignKey(Payment, models.CASCADE, related_name="allocations")
    invoice = models.ForeignKey(Invoice, models.PROTECT, related_name="allocations")
    amount = money_field()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["payment", "invoice"], name="one_allocation_per_invoice"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="allocation_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} to {self.invoice}"

    def clean(self) -> None:
        if self.amount is not None and self.amount <= 0:
            raise ValidationError({"amount": "An allocation must be more than zero."})
        if self.invoice_id and self.payment_id and self.invoice.tenant_id != self.payment.tenant_id:
            raise ValidationError({"invoice": "A payment can only pay the same tenant's invoices."})
