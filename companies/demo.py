"""A deterministic demo world: two groups of companies with tenants, invoices, credits and payments.

`demo_seed` is what `manage.py seed_demo` runs. Everything comes from `random.Random` seeded per
company, so the same seed and the same day give the same data, and changing the number of companies
leaves the existing ones unchanged. Rows are written with `bulk_create` in one transaction and the
document totals are computed in Python with the models' own rounding (`DocumentLine.amount` and
`tax_amount`), so 100,000 invoices take seconds rather than the hours per-row saves would take.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TypeVar
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import AbstractUser
from django.db import transaction
from django.utils import timezone

from companies.models import (
    CENT,
    ChargeCode,
    Company,
    CreditNote,
    CreditNoteLine,
    DocumentStatus,
    Group,
    Invoice,
    InvoiceLine,
    Membership,
    Payment,
    PaymentAllocation,
    Property,
    TaxRate,
    Tenant,
    round_money,
)

HARBOUR = "Harbour Property Group"
NORTHWIND = "Northwind Estates"
DEFAULT_SEED = 20240601
DEFAULT_COMPANIES = 8
MONTHS_BACK = 18
BATCH_SIZE = 2000
TIMEZONE = ZoneInfo("America/New_York")
T = TypeVar("T")
LineT = TypeVar("LineT", InvoiceLine, CreditNoteLine)
ONE = Decimal(1)
ZERO = Decimal("0.00")
ANNUAL_ESCALATION = Decimal("1.03")  # leases here rise 3% on each anniversary

# (name, kind): kind picks the properties, so "Commercial" companies bill businesses, with tax.
HARBOUR_COMPANIES = (
    ("Harbour Residential LLC", "residential"),
    ("Harbour Commercial LLC", "commercial"),
    ("Bayview Lettings", "residential"),
    ("Quayside Retail Partners LLC", "commercial"),
    ("Pier Street Holdings LLC", "mixed"),
    ("Lighthouse Lofts LLC", "residential"),
    ("Tidewater Offices LLC", "commercial"),
    ("Anchor Point Apartments LLC", "residential"),
    ("Marina Heights LLC", "mixed"),
    ("Seawall Mixed Use LLC", "mixed"),
)
NORTHWIND_COMPANIES = (
    ("Northwind Estates Management LLC", "mixed"),
    ("Northwind Campus Living LLC", "residential"),
)
RESIDENTIAL_PROPERTIES = (
    "Pier 17 Lofts", "Harbour View Apartments", "Quayside Residences", "The Anchorage",
    "Lighthouse Court", "Waterline Flats", "Seaport Terrace", "Marina House",
    "Tidewater Commons", "Bayside Gardens", "Clipper Yard Lofts", "Saltbox Row",
)  # fmt: skip
COMMERCIAL_PROPERTIES = (
    "Fulton Street Retail", "Harbour Point Offices", "Dockside Trade Center", "The Chandlery",
    "Wharf Building", "Ropewalk Studios", "Customs House Suites", "Ferry Terminal Shops",
    "Shipyard Works", "Beacon Plaza",
)  # fmt: skip
# (street, city, ZIP code): real streets near New York's waterfront.
STREETS = (
    ("Water Street", "New York", "10004"), ("Front Street", "New York", "10038"),
    ("Pearl Street", "New York", "10038"), ("Fulton Street", "New York", "10038"),
    ("South Street", "New York", "10002"), ("Maiden Lane", "New York", "10038"),
    ("Atlantic Avenue", "Brooklyn", "11201"), ("Court Street", "Brooklyn", "11231"),
    ("Van Brunt Street", "Brooklyn", "11231"), ("Kent Avenue", "Brooklyn", "11249"),
    ("Bedford Avenue", "Brooklyn", "11211"), ("Jay Street", "Brooklyn", "11201"),
    ("Vernon Boulevard", "Long Island City", "11101"), ("Jackson Avenue", "Long Island City", "11101"),
    ("Bay Street", "Staten Island", "10301"), ("Richmond Terrace", "Staten Island", "10301"),
)  # fmt: skip
FIRST_NAMES = (
    "Maria", "James", "Aisha", "Wei", "Daniel", "Sofia", "Kwame", "Emily", "Rahul", "Olivia",
    "Carlos", "Hannah", "Mohammed", "Grace", "Luis", "Chloe", "Dmitri", "Priya", "Thomas",
    "Fatima", "Noah", "Isabella", "Jamal", "Mei", "Samuel", "Ava", "Kenji", "Lucia", "Patrick",
    "Zainab", "Ethan", "Nadia", "Marcus", "Elena", "Tyrone", "Rachel", "Andre", "Yuki", "Gabriel",
    "Leah",
)  # fmt: skip
LAST_NAMES = (
    "Gonzalez", "Smith", "Okafor", "Chen", "Murphy", "Rossi", "Mensah", "Johnson", "Patel",
    "Williams", "Rodriguez", "Cohen", "Haddad", "Kim", "Hernandez", "Dubois", "Ivanov", "Shah",
    "O'Brien", "Khan", "Brown", "Martinez", "Washington", "Nguyen", "Goldberg", "Davis", "Tanaka",
    "Silva", "Kowalski", "Abdullah", "Miller", "Rahman", "Jackson", "Petrova", "Walker", "Levy",
    "Baptiste", "Sato", "Ortiz", "Friedman",
)  # fmt: skip
BUSINESS_NAMES = (
    "Blue Ribbon", "Copper Kettle", "Hudson", "Greenpoint", "Atlas", "Brightwater", "Red Hook",
    "Union Square", "Empire", "Liberty", "Gotham", "Iron Gate", "Silver Birch", "Northside",
    "Flatiron", "Cobblestone", "Juniper", "Metro", "Riverside", "Old Slip",
)  # fmt: skip
BUSINESS_TRADES = (
    "Bakery", "Dental Care", "Yoga Studio", "Pharmacy", "Coffee Roasters", "Architects",
    "Physical Therapy", "Books", "Wine & Spirits", "Dry Cleaners", "Barbershop", "Accounting",
    "Pilates", "Florist", "Hardware", "Veterinary Clinic", "Tutoring", "Print Shop", "Bistro",
    "Legal Services",
)  # fmt: skip
BUSINESS_SUFFIXES = ("LLC", "Inc.", "Co.", "Group", "")
EMAIL_DOMAINS = ("example.com", "example.net", "example.org")

TAX_RATES = (("Exempt", "0"), ("NY Sales Tax", "8.875"), ("Commercial Rent Tax", "3.9"))
# (code, name, default tax rate)
CHARGE_CODES = (
    ("RENT", "Rent", "Exempt"),
    ("SVC", "Service charge", "NY Sales Tax"),
    ("PARK", "Parking", "NY Sales Tax"),
    ("UTIL", "Utilities recharge", "NY Sales Tax"),
    ("LATE", "Late fee", "Exempt"),
    ("DEP", "Deposit", "Exempt"),
)
# Businesses pay tax on these; homes pay none, and deposits and late fees are never taxed.
COMMERCIAL_TAX = {
    "RENT": "Commercial Rent Tax",
    "SVC": "NY Sales Tax",
    "PARK": "NY Sales Tax",
    "UTIL": "NY Sales Tax",
}
CREDIT_REASONS = (
    ("RENT", "Rent concession"),
    ("RENT", "Goodwill credit for repair delays"),
    ("SVC", "Service charge adjustment"),
    ("PARK", "Parking space unavailable"),
)
# Months since issue -> (chance paid in full, chance paid in part): recent invoices are less paid.
PAYMENT_ODDS = {0: (0.35, 0.05), 1: (0.72, 0.10), 2: (0.85, 0.07), 3: (0.93, 0.04)}
PAYMENT_METHODS = (
    Payment.Method.BANK_TRANSFER,
    Payment.Method.CHECK,
    Payment.Method.CARD,
    Payment.Method.CASH,
)
PAYMENT_CUM_WEIGHTS = (70, 85, 97, 100)  # cumulative: choices() then skips summing per call


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    group: str | None  # None: the superuser, who needs no membership
    role: str | None
    can: str
    first_name: str
    last_name: str

    @property
    def role_label(self) -> str:
        return Membership.Role(self.role).label if self.role else "Superuser"


DEMO_LOGINS = (
    DemoLogin(
        "pm@harbour.example", "harbour-pm-demo", HARBOUR, Membership.Role.PROPERTY_MANAGER,
        "Harbour's companies: checks invoices reached QuickBooks (bell, invoice pages)",
        "Priya", "Shah",
    ),
    DemoLogin(
        "finance@harbour.example", "harbour-finance-demo", HARBOUR, Membership.Role.FINANCE_ADMIN,
        "Harbour's companies: connects QuickBooks, works Sync Results, sets the Sync From date",
        "Daniel", "Okafor",
    ),
    DemoLogin(
        "ops@harbour.example", "harbour-ops-demo", HARBOUR, Membership.Role.OPS,
        "Harbour's companies: watches the Sync Overview tiles and the message log",
        "Mei", "Chen",
    ),
    DemoLogin(
        "finance@northwind.example", "northwind-finance-demo", NORTHWIND,
        Membership.Role.FINANCE_ADMIN,
        "Northwind's companies only: cannot see Harbour (tenancy isolation)",
        "Elena", "Petrova",
    ),
    DemoLogin(
        "admin", "admin-demo", None, None, "The Django admin site at /admin/", "Site", "Admin"
    ),
)  # fmt: skip


@dataclass
class SeedSummary:
    companies: int = 0
    tenants: int = 0
    invoices: int = 0
    credit_notes: int = 0
    payments: int = 0
    seconds: float = 0.0
    logins: Sequence[DemoLogin] = DEMO_LOGINS


class DemoAlreadySeeded(Exception):
    pass


@dataclass(frozen=True)
class _CompanyPlan:
    name: str
    kind: str  # residential, commercial or mixed
    months: int = MONTHS_BACK
    units: int | None = None  # None: a random, realistic number
    invoices: int | None = None  # exactly this many invoices, overriding units


@dataclass
class _Context:
    """What every builder for one company needs; one per company keeps its random stream apart."""

    company: Company
    rng: random.Random
    months: list[date]
    today: date
    taxes: dict[str, TaxRate] = field(default_factory=dict)
    codes: dict[str, ChargeCode] = field(default_factory=dict)


@dataclass
class _Tenancy:
    tenant: Tenant
    unit: str
    commercial: bool
    first: int  # index into _Context.months
    last: int
    rent: Decimal
    parking: Decimal | None
    service: Decimal | None


def demo_exists() -> bool:
    return Group.objects.filter(name__in=[HARBOUR, NORTHWIND]).exists()


def demo_seed(
    *,
    seed: int = DEFAULT_SEED,
    companies: int = DEFAULT_COMPANIES,
    invoices_per_company: int | None = None,
    reset: bool = False,
    today: date | None = None,
) -> SeedSummary:
    """Create the Harbour and Northwind groups, their data and the demo logins.

    With `reset`, the demo groups and everything in them are deleted first; without it an
    existing demo raises `DemoAlreadySeeded` rather than adding a second copy.
    """
    started = time.perf_counter()
    today = today or timezone.localdate(timezone=TIMEZONE)
    summary = SeedSummary()
    with transaction.atomic():
        if reset:
            demo_delete()
        elif demo_exists():
            raise DemoAlreadySeeded(f"The demo ({HARBOUR}, {NORTHWIND}) already exists")
        for group_name, plans in _group_plans(companies, invoices_per_company):
            group = Group.objects.create(name=group_name)
            for plan in plans:
                _company_seed(group, plan, seed=seed, today=today, summary=summary)
        _logins_ensure()
    summary.seconds = time.perf_counter() - started
    return summary


def demo_delete() -> None:
    """Delete the demo groups with their data; the demo logins stay and are reset on seeding."""
    companies = Company.objects.filter(group__name__in=[HARBOUR, NORTHWIND])
    # Documents and payments point at tenants, codes and each other with PROTECT, so delete
    # them leaf first; the group's cascade then removes the rest, including other apps' rows.
    PaymentAllocation.objects.filter(payment__company__in=companies).delete()
    for model in (Payment, CreditNote, Invoice, Tenant, ChargeCode, TaxRate, Property):
        model.objects.filter(company__in=companies).delete()
    Group.objects.filter(name__in=[HARBOUR, NORTHWIND]).delete()


def _group_plans(
    companies: int, invoices_per_company: int | None
) -> list[tuple[str, list[_CompanyPlan]]]:
    harbour = [
        _CompanyPlan(*_harbour_company(index), invoices=invoices_per_company)
        for index in range(companies)
    ]
    # Northwind stays small whatever the scale: it exists to show one group cannot see another.
    northwind = [_CompanyPlan(name, kind, months=6, units=4) for name, kind in NORTHWIND_COMPANIES]
    return [(HARBOUR, harbour), (NORTHWIND, northwind)]


def _harbour_company(index: int) -> tuple[str, str]:
    if index < len(HARBOUR_COMPANIES):
        return HARBOUR_COMPANIES[index]
    return f"Harbour Portfolio {index + 1} LLC", "mixed"


def _company_seed(
    group: Group, plan: _CompanyPlan, *, seed: int, today: date, summary: SeedSummary
) -> None:
    ctx = _Context(
        company=Company.objects.create(
            group=group, name=plan.name, base_currency="USD", timezone=TIMEZONE.key
        ),
        # A string seed is hashed with SHA-512, so it is stable across processes and versions.
        rng=random.Random(f"{seed}:{group.name}:{plan.name}"),  # noqa: S311 (not security)
        months=_months_ending(today, plan.months),
        today=today,
    )
    ctx.taxes = _tax_rates_create(ctx.company)
    ctx.codes = _charge_codes_create(ctx.company, ctx.taxes)
    tenancies = _tenancies_create(ctx, _properties_create(ctx, plan.kind), plan)
    invoices = _invoices_create(ctx, tenancies)
    credit_notes = _credit_notes_create(ctx, invoices)
    payments = _payments_create(ctx, invoices, _credit_by_invoice(credit_notes))
    summary.companies += 1
    summary.tenants += len(tenancies)
    summary.invoices += len(invoices)
    summary.credit_notes += len(credit_notes)
    summary.payments += payments


def _months_ending(today: date, count: int) -> list[date]:
    month_number = today.year * 12 + today.month - 1
    firsts = (month_number - back for back in range(count - 1, -1, -1))
    return [date(number // 12, number % 12 + 1, 1) for number in firsts]


def _tax_rates_create(company: Company) -> dict[str, TaxRate]:
    rates = [TaxRate(company=company, name=name, rate=Decimal(rate)) for name, rate in TAX_RATES]
    TaxRate.objects.bulk_create(rates)
    return {rate.name: rate for rate in rates}


def _charge_codes_create(company: Company, taxes: dict[str, TaxRate]) -> dict[str, ChargeCode]:
    codes = [
        ChargeCode(company=company, code=code, name=name, default_tax_rate=taxes[tax])
        for code, name, tax in CHARGE_CODES
    ]
    ChargeCode.objects.bulk_create(codes)
    return {code.code: code for code in codes}


def _properties_create(ctx: _Context, kind: str) -> list[Property]:
    rng = ctx.rng
    names = {
        "residential": rng.sample(RESIDENTIAL_PROPERTIES, rng.randint(3, 6)),
        "commercial": rng.sample(COMMERCIAL_PROPERTIES, rng.randint(3, 6)),
        "mixed": rng.sample(RESIDENTIAL_PROPERTIES, rng.randint(2, 3))
        + rng.sample(COMMERCIAL_PROPERTIES, rng.randint(1, 3)),
    }[kind]
    properties = []
    for name in names:
        street, city, postcode = rng.choice(STREETS)
        address = f"{rng.randint(1, 480)} {street}"
        properties.append(
            Property(company=ctx.company, name=name, address=address, city=city, postcode=postcode)
        )
    Property.objects.bulk_create(properties)
    return properties


def _unit_spans(rng: random.Random, plan: _CompanyPlan) -> list[int]:
    """How many months each unit is let for, ending this month.

    Every unit is let throughout, except that with an exact invoice count the last unit was let
    recently, so the spans add up to the count exactly.
    """
    if plan.invoices is None:
        return [plan.months] * (plan.units or rng.randint(18, 32))
    full, rest = divmod(plan.invoices, plan.months)
    return [plan.months] * full + ([rest] if rest else [])


def _tenancies_create(
    ctx: _Context, properties: list[Property], plan: _CompanyPlan
) -> list[_Tenancy]:
    rng, tenancies, used_names = ctx.rng, [], set()
    units_in = dict.fromkeys(properties, 0)
    for span in _unit_spans(rng, plan):
        place = rng.choice(properties)
        units_in[place] += 1
        commercial = place.name in COMMERCIAL_PROPERTIES
        unit = _unit_label(units_in[place], commercial)
        for first, last in _occupancies(rng, plan.months - span, plan.months - 1):
            tenant = _tenant_build(ctx, place, unit, commercial, used_names)
            if last < plan.months - 1:  # moved out: archived soon after their last month
                tenant.archived_at = _moment(ctx, ctx.months[last + 1], rng.randint(0, 9))
            tenancies.append(_tenancy_build(rng, tenant, unit, commercial, first, last))
    Tenant.objects.bulk_create([tenancy.tenant for tenancy in tenancies], batch_size=BATCH_SIZE)
    return tenancies


def _occupancies(rng: random.Random, first: int, last: int) -> list[tuple[int, int]]:
    # About one unit in eight changed hands, which gives archived tenants and new deposits.
    if last - first >= 5 and rng.random() < 0.12:
        change = rng.randint(first + 2, last - 2)
        return [(first, change - 1), (change, last)]
    return [(first, last)]


def _unit_label(number: int, commercial: bool) -> str:
    floor, door = divmod(number - 1, 6)
    if commercial:
        return f"Suite {floor + 1}{door + 1:02d}"
    return f"Apt {floor + 1}{'ABCDEF'[door]}"


def _moment(ctx: _Context, day: date, days_later: int) -> datetime:
    when = min(day + timedelta(days=days_later), ctx.today)
    return datetime(when.year, when.month, when.day, 17, 30, tzinfo=TIMEZONE)


def _tenant_build(
    ctx: _Context, place: Property, unit: str, commercial: bool, used_names: set[str]
) -> Tenant:
    rng = ctx.rng
    name, email = _business_name(rng) if commercial else _person_name(rng)
    if name in used_names:  # a second "Maria Chen" gets a distinguishing suffix, as in real books
        name, email = f"{name} ({unit})", email.replace("@", f".{unit.split()[-1].lower()}@")
    used_names.add(name)
    area = rng.choice(("212", "646", "718", "347", "917"))
    return Tenant(
        company=ctx.company,
        property=place,
        name=name,
        email=email,
        # 555-0100 to 555-0199 are reserved for fiction, so no real person is ever called.
        phone=f"({area}) 555-{rng.randint(100, 199):04d}",
        billing_address=f"{place.address}, {unit}, {place.city}, NY {place.postcode}",
    )


def _person_name(rng: random.Random) -> tuple[str, str]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    local = f"{first}.{last}".lower().replace("'", "")
    return f"{first} {last}", f"{local}@{rng.choice(EMAIL_DOMAINS)}"


def _business_name(rng: random.Random) -> tuple[str, str]:
    stem = f"{rng.choice(BUSINESS_NAMES)} {rng.choice(BUSINESS_TRADES)}"
    name = f"{stem} {rng.choice(BUSINESS_SUFFIXES)}".strip()
    slug = "".join(char for char in stem.lower() if char.isalnum())
    return name, f"accounts@{slug}.example"


def _tenancy_build(
    rng: random.Random, tenant: Tenant, unit: str, commercial: bool, first: int, last: int
) -> _Tenancy:
    if commercial:
        rent = Decimal(rng.randrange(3500, 18000, 50))
        service = Decimal(rng.randrange(25000, 180000)) / 100
    else:
        rent, service = Decimal(rng.randrange(1450, 4200, 25)), None
    has_parking = rng.random() < (0.5 if commercial else 0.3)
    parking = Decimal(rng.choice((150, 175, 200, 225, 250, 275))) if has_parking else None
    return _Tenancy(tenant, unit, commercial, first, last, rent, parking, service)


def _invoices_create(
    ctx: _Context, tenancies: list[_Tenancy]
) -> list[tuple[Invoice, list[InvoiceLine]]]:
    invoices = []
    for month_index in range(len(ctx.months)):
        for tenancy in tenancies:
            if tenancy.first <= month_index <= tenancy.last:
                invoices.append(_invoice_build(ctx, tenancy, month_index, len(invoices) + 1))
    Invoice.objects.bulk_create([invoice for invoice, _ in invoices], batch_size=BATCH_SIZE)
    # The lines hold their unsaved invoice; bulk_create now copies in the primary keys
    # the insert returned (RETURNING on SQLite ≥ 3.35 and PostgreSQL), with no lookups.
    InvoiceLine.objects.bulk_create(_flatten(lines for _, lines in invoices), batch_size=BATCH_SIZE)
    return invoices


def _invoice_build(
    ctx: _Context, tenancy: _Tenancy, month_index: int, number: int
) -> tuple[Invoice, list[InvoiceLine]]:
    issued = ctx.months[month_index]
    month = issued.strftime("%B %Y")
    invoice = Invoice(
        company=ctx.company,
        number=f"INV-{number:06d}",
        tenant=tenancy.tenant,
        property=tenancy.tenant.property,
        issue_date=issued,
        due_date=issued + timedelta(days=14),
        status=_invoice_status(ctx.rng, current=month_index == len(ctx.months) - 1),
        currency=ctx.company.base_currency,
        memo=f"{month} charges, {tenancy.unit}, {tenancy.tenant.property.name}",
    )
    lines = _invoice_lines(ctx, tenancy, month_index, month)
    for position, line in enumerate(lines):
        line.invoice, line.position = invoice, position
    _totals_apply(invoice, lines)
    return invoice, lines


def _invoice_status(rng: random.Random, *, current: bool) -> str:
    roll, void_share = rng.random(), 0.015
    # This month's run is still being checked, so a quarter of it waits as drafts.
    draft_share = 0.25 if current else 0.005
    if roll < void_share:
        return DocumentStatus.VOID
    if roll < void_share + draft_share:
        return DocumentStatus.DRAFT
    return DocumentStatus.APPROVED


def _invoice_lines(
    ctx: _Context, tenancy: _Tenancy, month_index: int, month: str
) -> list[InvoiceLine]:
    rng, kind = ctx.rng, "commercial" if tenancy.commercial else "residential"
    rent = round_money(tenancy.rent * ANNUAL_ESCALATION ** ((month_index - tenancy.first) // 12))
    lines = [_line(ctx, InvoiceLine, "RENT", f"Rent {month}, {tenancy.unit}", rent, kind)]
    if month_index == tenancy.first and month_index > 0:  # moved in within the window
        lines.append(_line(ctx, InvoiceLine, "DEP", "Security deposit", tenancy.rent, kind))
    if tenancy.service is not None:
        lines.append(
            _line(ctx, InvoiceLine, "SVC", f"Service charge {month}", tenancy.service, kind)
        )
    if tenancy.parking is not None:
        lines.append(_line(ctx, InvoiceLine, "PARK", f"Parking {month}", tenancy.parking, kind))
    if rng.random() < 0.1:
        lines.append(_utilities_line(ctx, kind))
    if rng.random() < 0.02:
        fee = Decimal(150 if tenancy.commercial else 50)
        lines.append(_line(ctx, InvoiceLine, "LATE", "Late payment fee", fee, kind))
    return lines


def _utilities_line(ctx: _Context, kind: str) -> InvoiceLine:
    kwh = Decimal(ctx.rng.randrange(120000, 900000)) / 1000
    price = Decimal(ctx.rng.choice(("0.21", "0.23", "0.26")))
    description = f"Electricity recharge, {kwh} kWh at ${price}"
    return _line(ctx, InvoiceLine, "UTIL", description, price, kind, quantity=kwh)


def _line(
    ctx: _Context,
    model: type[LineT],
    code: str,
    description: str,
    unit_amount: Decimal,
    kind: str,
    quantity: Decimal = ONE,
) -> LineT:
    tax = COMMERCIAL_TAX.get(code, "Exempt") if kind == "commercial" else "Exempt"
    return model(
        charge_code=ctx.codes[code],
        description=description,
        quantity=quantity,
        unit_amount=unit_amount,
        tax_rate=ctx.taxes[tax],
    )


def _totals_apply(document: Invoice | CreditNote, lines: Sequence[LineT]) -> None:
    # The lines' own properties, so the rounding is exactly document_totals_refresh's.
    document.subtotal = sum((line.amount for line in lines), ZERO)
    document.tax_total = sum((line.tax_amount for line in lines), ZERO)
    document.total = document.subtotal + document.tax_total


def _credit_notes_create(
    ctx: _Context, invoices: list[tuple[Invoice, list[InvoiceLine]]]
) -> list[CreditNote]:
    """Credit about 3% of approved invoices, usually for part of one line."""
    notes, lines = [], []
    for invoice, invoice_lines in invoices:
        if invoice.status == DocumentStatus.APPROVED and ctx.rng.random() < 0.03:
            note, line = _credit_note_build(ctx, invoice, invoice_lines, len(notes) + 1)
            notes.append(note)
            lines.append(line)
    CreditNote.objects.bulk_create(notes, batch_size=BATCH_SIZE)
    CreditNoteLine.objects.bulk_create(lines, batch_size=BATCH_SIZE)
    return notes


def _credit_by_invoice(notes: list[CreditNote]) -> dict[int, Decimal]:
    return {note.allocated_invoice.pk: note.total for note in notes if note.allocated_invoice}


def _credit_note_build(
    ctx: _Context, invoice: Invoice, invoice_lines: list[InvoiceLine], number: int
) -> tuple[CreditNote, CreditNoteLine]:
    rng = ctx.rng
    code, reason = rng.choice(CREDIT_REASONS)
    credited = next((ln for ln in invoice_lines if ln.charge_code.code == code), invoice_lines[0])
    share = Decimal(rng.choice((5, 10, 15, 25))) / 100
    approved = rng.random() < 0.85
    note = CreditNote(
        company=ctx.company,
        number=f"CN-{number:05d}",
        tenant=invoice.tenant,
        property=invoice.property,
        issue_date=min(invoice.issue_date + timedelta(days=rng.randint(3, 25)), ctx.today),
        status=DocumentStatus.APPROVED if approved else DocumentStatus.DRAFT,
        currency=invoice.currency,
        memo=f"{reason} on {invoice.number}",
        # Most approved credits are set against the invoice they correct; the rest stay open.
        allocated_invoice=invoice if approved and rng.random() < 0.6 else None,
    )
    line = CreditNoteLine(
        credit_note=note,
        charge_code=credited.charge_code,
        description=f"{reason} ({credited.description})",
        unit_amount=max(CENT, round_money(credited.amount * share)),
        tax_rate=credited.tax_rate,
    )
    _totals_apply(note, [line])
    return note, line


def _payments_create(
    ctx: _Context, invoices: list[tuple[Invoice, list[InvoiceLine]]], credited: dict[int, Decimal]
) -> int:
    payments, allocations = [], []
    for invoice, _ in invoices:
        if invoice.status != DocumentStatus.APPROVED:
            continue
        amount = _payment_amount(ctx, invoice, invoice.total - credited.get(invoice.pk, ZERO))
        if amount is not None:
            payment = _payment_build(ctx, invoice, amount)
            payments.append(payment)
            allocations.append(PaymentAllocation(payment=payment, invoice=invoice, amount=amount))
    Payment.objects.bulk_create(payments, batch_size=BATCH_SIZE)
    PaymentAllocation.objects.bulk_create(allocations, batch_size=BATCH_SIZE)
    return len(payments)


def _payment_amount(ctx: _Context, invoice: Invoice, balance: Decimal) -> Decimal | None:
    """All of the balance, part of it, or nothing (unpaid, overdue once past the due date)."""
    issued = invoice.issue_date
    age = (ctx.today.year - issued.year) * 12 + ctx.today.month - issued.month
    full, partial = PAYMENT_ODDS[min(age, 3)]
    roll = ctx.rng.random()
    if balance <= 0 or roll >= full + partial:
        return None
    if roll < full:
        return balance
    return max(CENT, round_money(balance * ctx.rng.randint(30, 80) / 100))


def _payment_build(ctx: _Context, invoice: Invoice, amount: Decimal) -> Payment:
    rng = ctx.rng
    method = rng.choices(PAYMENT_METHODS, cum_weights=PAYMENT_CUM_WEIGHTS)[0]
    received = min(invoice.issue_date + timedelta(days=rng.randint(0, 24)), ctx.today)
    payment = Payment(
        company=ctx.company,
        tenant=invoice.tenant,
        received_on=received,
        amount=amount,
        currency=invoice.currency,
        method=method,
        reference=_payment_reference(rng, method),
    )
    if method == Payment.Method.CHECK and rng.random() < 0.03:  # a bounced check
        payment.voided_at = _moment(ctx, received, 6)
    return payment


def _payment_reference(rng: random.Random, method: str) -> str:
    if method == Payment.Method.BANK_TRANSFER:
        return f"ACH {rng.randint(100000, 999999)}"
    if method == Payment.Method.CHECK:
        return f"Check #{rng.randint(1001, 9999)}"
    if method == Payment.Method.CARD:
        return f"Card ending {rng.randint(1000, 9999)}"
    return "Paid at the office"


def _logins_ensure() -> None:
    """Create the demo logins, or reset them to the demo passwords, and add their memberships."""
    user_model = get_user_model()
    existing = user_model.objects.in_bulk(
        [login.username for login in DEMO_LOGINS], field_name="username"
    )
    # Hashing is deliberately slow (PBKDF2), so hash each distinct password once.
    hashes = {password: make_password(password) for password in {x.password for x in DEMO_LOGINS}}
    users = [_login_user(existing, login, hashes[login.password]) for login in DEMO_LOGINS]
    fields = ["password", "email", "first_name", "last_name", "is_staff", "is_superuser"]
    user_model.objects.bulk_update([user for user in users if user.pk], fields)
    user_model.objects.bulk_create([user for user in users if not user.pk])
    groups = Group.objects.in_bulk([HARBOUR, NORTHWIND], field_name="name")
    Membership.objects.bulk_create(
        Membership(user=user, group=groups[login.group], role=login.role)
        for user, login in zip(users, DEMO_LOGINS, strict=True)
        if login.group
    )


def _login_user(
    existing: dict[str, AbstractUser], login: DemoLogin, password_hash: str
) -> AbstractUser:
    user = existing.get(login.username) or get_user_model()(username=login.username)
    user.password = password_hash
    user.email = login.username if "@" in login.username else "admin@harbour.example"
    user.first_name, user.last_name = login.first_name, login.last_name
    user.is_staff = user.is_superuser = login.group is None
    return user


def _flatten(lists: Iterable[list[T]]) -> list[T]:
    return [item for items in lists for item in items]
