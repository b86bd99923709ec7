"""python-quickbooks queries (filter, where, choose, count, all, raw query) against the sandbox.

The query language is QBO's (qbo-api.md §4 "Query language"); the library emits both `ORDER BY` (all)
and `ORDERBY` (where/filter), Python-style booleans, `Id in (...)` and `SELECT *, Sku` for items.
Paging and envelope expectations come from all/*.yml and get/*.yml.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from quickbooks import QuickBooks
from quickbooks.batch import batch_create
from quickbooks.exceptions import ValidationException
from quickbooks.objects.customer import Customer
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.item import Item

from .helpers import (  # noqa: F401 (fixtures)
    deadline_fixture,
    qb_fixture,
    realm_id_fixture,
    sandbox_process_fixture,
    save_customer,
    save_invoice,
    services_item,
)

TENANTS = [f"Tenant {n:02d}" for n in range(1, 8)]


@pytest.fixture
def tenants(qb: QuickBooks) -> list[Customer]:
    # Created out of order so ordering has to come from the query, not from insertion.
    return [save_customer(qb, name) for name in reversed(TENANTS)]


def _names(customers: list[Customer]) -> list[str]:
    return [c.DisplayName for c in customers]


def test_it_filters_by_a_display_name_with_an_apostrophe(qb: QuickBooks) -> None:
    save_customer(qb, "Amy's Bird Sanctuary")
    save_customer(qb, "Amy Bird")
    # get/display_name.yml: the library escapes ' as \' and QBO matches exactly one row.
    assert _names(Customer.filter(DisplayName="Amy's Bird Sanctuary", qb=qb)) == [
        "Amy's Bird Sanctuary"
    ]


def test_it_filters_by_a_name_with_an_ampersand(qb: QuickBooks) -> None:
    save_customer(qb, "Robertson & Associates")
    # misc/ampersand.yml: '&' travels URL-encoded inside the query and matches literally.
    assert _names(Customer.filter(DisplayName="Robertson & Associates", qb=qb)) == [
        "Robertson & Associates"
    ]


def test_it_lists_name_lists_by_name_when_no_order_is_given(qb: QuickBooks) -> None:
    for name in ("Pam Seitz", "Bob's Burger Joint", "PG&E", "Amy's Bird Sanctuary"):
        save_customer(qb, name)
    # all/customers.yml, all/vendors_by_5.yml: without ORDERBY QBO sorts name lists by
    # FullyQualifiedName, byte-wise ("PG&E" before "Pam Seitz").
    assert _names(Customer.all(qb=qb)) == [
        "Amy's Bird Sanctuary",
        "Bob's Burger Joint",
        "PG&E",
        "Pam Seitz",
    ]


def test_it_orders_and_pages_with_where(qb: QuickBooks, tenants: list[Customer]) -> None:
    where = "DisplayName LIKE 'Tenant%'"
    pages = [
        Customer.where(where, order_by="DisplayName", start_position=start, max_results=3, qb=qb)
        for start in (1, 4, 7)
    ]
    # STARTPOSITION is 1-based (qbo-api.md §1); the last page holds the remainder.
    assert [_names(page) for page in pages] == [TENANTS[0:3], TENANTS[3:6], TENANTS[6:7]]
    descending = Customer.where(where, order_by="DisplayName DESC", max_results=2, qb=qb)
    assert _names(descending) == ["Tenant 07", "Tenant 06"]


def test_it_reports_start_position_and_max_results_of_a_page(
    qb: QuickBooks, tenants: list[Customer]
) -> None:
    body = qb.query(
        "SELECT * FROM Customer WHERE DisplayName LIKE 'Tenant%' ORDERBY DisplayName "
        "MAXRESULTS 2 STARTPOSITION 3"
    )
    page = body["QueryResponse"]
    # all/alt_select.yml: startPosition echoes the request, maxResults is the rows returned.
    assert page["startPosition"] == 3 and page["maxResults"] == 2
    assert [c["DisplayName"] for c in page["Customer"]] == ["Tenant 03", "Tenant 04"]
    assert set(body) == {"QueryResponse", "time"}


def test_it_answers_an_empty_page_without_the_entity_key(
    qb: QuickBooks, tenants: list[Customer]
) -> None:
    body = qb.query("SELECT * FROM Customer WHERE DisplayName LIKE 'Tenant%' STARTPOSITION 50")
    # all/alt_select.yml: past the end -> {"QueryResponse":{}}.
    assert body["QueryResponse"] == {}
    assert Customer.filter(DisplayName="Nobody", qb=qb) == []


def test_it_counts_with_and_without_a_where_clause(qb: QuickBooks, tenants: list[Customer]) -> None:
    save_customer(qb, "Landlord")
    assert Customer.count("DisplayName LIKE 'Tenant%'", qb=qb) == 7
    # all/customers.yml: COUNT(*) -> {"QueryResponse":{"totalCount":N}} and nothing else.
    body = qb.query("SELECT COUNT(*) FROM Customer")
    assert set(body["QueryResponse"]) == {"totalCount"}
    assert body["QueryResponse"]["totalCount"] == len(Customer.all(max_results=1000, qb=qb))


def test_it_chooses_by_id_list(qb: QuickBooks, tenants: list[Customer]) -> None:
    wanted = [tenants[0].Id, tenants[3].Id, tenants[5].Id]
    chosen = Customer.choose(wanted, qb=qb)
    # all/alt_select.yml uses Id IN ('5', '6', ...): quoted numeric strings.
    assert sorted(c.Id for c in chosen) == sorted(wanted)
    assert Customer.count(f"Id IN ('{wanted[0]}', '{wanted[1]}')", qb=qb) == 2


def test_it_matches_like_patterns(qb: QuickBooks, tenants: list[Customer]) -> None:
    save_customer(qb, "55 Twin Lane")
    save_customer(qb, "0969 Ocean View Road")
    # LIKE supports only % (qbo-api.md §4), at either end or both.
    assert _names(Customer.where("DisplayName LIKE '%Lane'", qb=qb)) == ["55 Twin Lane"]
    assert _names(Customer.where("DisplayName LIKE '%Ocean%'", qb=qb)) == ["0969 Ocean View Road"]
    assert len(Customer.where("DisplayName LIKE 'Tenant 0%'", qb=qb)) == 7


def test_it_hides_inactive_records_unless_asked(qb: QuickBooks, tenants: list[Customer]) -> None:
    gone = tenants[0]
    body = {"Id": gone.Id, "SyncToken": gone.SyncToken, "sparse": True, "Active": False}
    qb.update_object("Customer", json.dumps(body))
    # get/inactive_vendors.yml, all/employees_including_active.yml: inactive rows appear only
    # with Active IN (true, false) or Active = false, renamed " (deleted)".
    assert gone.Id not in {c.Id for c in Customer.all(qb=qb)}
    assert Customer.count("DisplayName LIKE 'Tenant%'", qb=qb) == 6
    both = Customer.where("Active IN (true, false)", qb=qb)
    assert gone.Id in {c.Id for c in both}
    inactive = Customer.filter(Active=False, qb=qb)  # the library writes `Active = False`
    assert [(c.Id, c.DisplayName) for c in inactive] == [(gone.Id, "Tenant 07 (deleted)")]
    assert Customer.count("Active IN (true, false)", qb=qb) == len(both)


def test_it_reads_an_inactive_record_by_id(qb: QuickBooks) -> None:
    customer = save_customer(qb, "Read Anyway")
    body = {"Id": customer.Id, "SyncToken": "0", "sparse": True, "Active": False}
    qb.update_object("Customer", json.dumps(body))
    # deactivate/account.yml reads an inactive account by id with a plain GET.
    fetched = Customer.get(customer.Id, qb=qb)
    assert fetched.Active is False and fetched.DisplayName == "Read Anyway (deleted)"


def test_it_lists_items_with_the_sku_projection(qb: QuickBooks) -> None:
    services_item(qb)
    # Item.all() sends "SELECT *, Sku FROM Item ORDER BY Name" (qbo-api.md §4 Item).
    items = Item.all(order_by="Name", qb=qb)
    names = [i.Name for i in items]
    assert "Services" in names
    assert names == sorted(names, key=str.lower) or names == sorted(names)


def test_it_compares_amounts_and_filters_by_reference(qb: QuickBooks) -> None:
    first, second = save_customer(qb, "Big Spender"), save_customer(qb, "Small Spender")
    big = [save_invoice(qb, first, 337.5), save_invoice(qb, first, 400.0)]
    save_invoice(qb, first, 20.0)
    save_invoice(qb, second, 500.0)
    # batch/basic.yml queries "TotalAmt > '300.00'": a numeric comparison on a quoted value.
    over = Invoice.where(f"TotalAmt > '300.00' AND CustomerRef = '{first.Id}'", qb=qb)
    assert sorted(i.Id for i in over) == sorted(i.Id for i in big)
    assert len(Invoice.filter(CustomerRef=first.Id, qb=qb)) == 3


def test_it_orders_invoices_by_txn_date(qb: QuickBooks) -> None:
    customer = save_customer(qb, "Dated")
    for day in ("2026-03-01", "2026-01-01", "2026-02-01"):
        save_invoice(qb, customer, TxnDate=day)
    ordered = Invoice.where("TxnDate >= '2026-01-01'", order_by="TxnDate", qb=qb)
    assert [i.TxnDate for i in ordered] == ["2026-01-01", "2026-02-01", "2026-03-01"]


def test_it_pages_at_100_rows_by_default(qb: QuickBooks) -> None:
    customers = []
    for n in range(105):
        customer = Customer()
        customer.DisplayName = f"Bulk {n:03d}"
        customers.append(customer)
    assert not batch_create(customers, qb=qb).faults
    page = qb.query("SELECT * FROM Customer WHERE DisplayName LIKE 'Bulk%'")["QueryResponse"]
    # qbo-api.md §1: MAXRESULTS defaults to 100.
    assert len(page["Customer"]) == page["maxResults"] == 100
    rest = qb.query(
        "SELECT * FROM Customer WHERE DisplayName LIKE 'Bulk%' STARTPOSITION 101 MAXRESULTS 1000"
    )["QueryResponse"]
    assert len(rest["Customer"]) == 5


def test_it_accepts_case_insensitive_keywords(qb: QuickBooks) -> None:
    save_customer(qb, "Lower Case")
    # qbo-api.md §4: keywords, entity and attribute names are case-insensitive.
    rows = qb.query("select * from customer where displayname = 'Lower Case'")["QueryResponse"]
    assert [c["DisplayName"] for c in rows["Customer"]] == ["Lower Case"]


def test_it_rejects_an_unknown_entity_with_4001(qb: QuickBooks) -> None:
    with pytest.raises(ValidationException) as raised:
        qb.query("SELECT * FROM Custmoer")
    # error/400.yml: "Invalid query", QueryValidationError naming the bad entity.
    assert raised.value.error_code == 4001
    assert raised.value.message == "Invalid query"
    assert "Custmoer" in raised.value.detail


def test_it_rejects_unparsable_sql_with_4000(qb: QuickBooks) -> None:
    with pytest.raises(ValidationException) as raised:
        qb.query("SELEC * FROM Customer WHERE")
    # qbo-api.md §2: 4000/4001 invalid query; a parse error is 4000 (QueryParserError).
    assert raised.value.error_code == 4000


def test_it_rejects_or_as_unsupported_syntax(qb: QuickBooks) -> None:
    # qbo-api.md §4: no OR in the query language; it fails to parse (4000) instead of matching.
    with pytest.raises(ValidationException) as raised:
        qb.query("SELECT * FROM Customer WHERE DisplayName = 'a' OR DisplayName = 'b'")
    assert raised.value.error_code == 4000


def test_it_finds_an_invoice_by_doc_number(qb: QuickBooks) -> None:
    customer = save_customer(qb, "Looked Up")
    wanted = save_invoice(qb, customer, DocNumber="RS-2041")
    save_invoice(qb, customer, DocNumber="RS-2042")
    # qbo-api.md §3: DocNumber lookups are the client-side dedupe for lost responses.
    assert [i.Id for i in Invoice.filter(DocNumber="RS-2041", qb=qb)] == [wanted.Id]


def test_it_filters_on_last_updated_time_across_offsets(qb: QuickBooks) -> None:
    customer = save_customer(qb, "Incremental")
    save_invoice(qb, customer, 10.0)
    time.sleep(1.1)  # MetaData times have one-second resolution
    since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    time.sleep(1.1)
    later = save_invoice(qb, customer, 20.0)
    # MetaData.LastUpdatedTime is filterable (qbo-api.md §4 query language); the sandbox writes
    # local offsets (-07:00 in the recordings), the caller may send UTC: instants are compared.
    rows = Invoice.where(f"MetaData.LastUpdatedTime > '{since}'", qb=qb)
    assert [i.Id for i in rows] == [later.Id]
