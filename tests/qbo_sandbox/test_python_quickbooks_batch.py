"""python-quickbooks batch operations and change data capture against the sandbox.

Shapes from batch/basic.yml (per-item faults, HTTP 200 overall, bId echo) and cdc/basic.yml plus
qbo-api.md §7 (CDC nesting, deleted rows, absent entities).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from quickbooks import QuickBooks
from quickbooks.batch import batch_create, batch_delete, batch_update
from quickbooks.cdc import change_data_capture
from quickbooks.exceptions import QuickbooksException
from quickbooks.objects.customer import Customer
from quickbooks.objects.invoice import Invoice

from .helpers import (  # noqa: F401 (fixtures)
    deadline_fixture,
    qb_fixture,
    realm_id_fixture,
    sandbox_process_fixture,
    save_customer,
    save_invoice,
)


def _customers(*names: str) -> list[Customer]:
    out = []
    for name in names:
        customer = Customer()
        customer.DisplayName = name
        out.append(customer)
    return out


def _codes(faults) -> list[int]:
    return sorted(int(error.code) for fault in faults for error in fault.Error)


def test_it_batch_creates_and_returns_each_object(qb: QuickBooks) -> None:
    result = batch_create(_customers("Batch A", "Batch B", "Batch C"), qb=qb)
    assert not result.faults
    assert sorted(c.DisplayName for c in result.successes) == ["Batch A", "Batch B", "Batch C"]
    assert all(c.Id and c.SyncToken == "0" for c in result.successes)
    assert Customer.count("DisplayName LIKE 'Batch%'", qb=qb) == 3


def test_it_faults_only_the_offending_batch_item(qb: QuickBooks) -> None:
    save_customer(qb, "Weiskopf Consulting")
    result = batch_create(_customers("Fresh Name", "Weiskopf Consulting"), qb=qb)
    # batch/basic.yml: item faults travel inside a 200 response next to the successes.
    assert [c.DisplayName for c in result.successes] == ["Fresh Name"]
    assert _codes(result.faults) == [6240]
    assert result.faults[0].original_object.DisplayName == "Weiskopf Consulting"
    assert result.faults[0].type == "ValidationFault"


def test_it_reports_a_stale_sync_token_per_item(qb: QuickBooks) -> None:
    fresh, stale = save_customer(qb, "Fresh Row"), save_customer(qb, "Stale Row")
    current = Customer.get(stale.Id, qb=qb)
    current.Notes = "edited elsewhere"
    current.save(qb=qb)
    fresh.Notes, stale.Notes = "batch", "batch"
    result = batch_update([fresh, stale], qb=qb)
    # batch/basic.yml bid3: "Stale Object Error", code 5010.
    assert [c.Id for c in result.successes] == [fresh.Id]
    assert result.successes[0].SyncToken == "1"
    assert _codes(result.faults) == [5010]
    assert result.faults[0].Error[0].Message == "Stale Object Error"


def test_it_reports_deleting_a_deleted_transaction_per_item(qb: QuickBooks) -> None:
    customer = save_customer(qb, "Batch Deleter")
    keep, gone = save_invoice(qb, customer), save_invoice(qb, customer)
    gone.delete(qb=qb)
    result = batch_delete([keep, gone], qb=qb)
    # batch/basic.yml bid2: deleting an already deleted invoice -> 610 "Object Not Found".
    assert _codes(result.faults) == [610]
    assert result.faults[0].Error[0].Message == "Object Not Found"
    assert Invoice.filter(CustomerRef=customer.Id, qb=qb) == []


def test_it_splits_more_than_30_items_into_several_batches(qb: QuickBooks) -> None:
    names = [f"Chunk {n:02d}" for n in range(31)]
    # qbo-api.md §1: at most 30 items per batch; the library chunks, the sandbox must take 30.
    result = batch_create(_customers(*names), qb=qb)
    assert not result.faults and len(result.successes) == 31


def test_it_rejects_a_batch_of_more_than_30_items(qb: QuickBooks) -> None:
    items = [
        {"bId": f"b{n}", "operation": "create", "Customer": {"DisplayName": f"Over {n}"}}
        for n in range(31)
    ]
    # qbo-api.md §1: 30 items is the documented maximum; a bigger payload is refused as a whole
    # (a Fault, which the library raises) and nothing is created.
    with pytest.raises(QuickbooksException):
        qb.batch_operation(json.dumps({"BatchItemRequest": items}))
    assert Customer.count("DisplayName LIKE 'Over%'", qb=qb) == 0


def test_it_captures_changes_including_deleted_rows(qb: QuickBooks) -> None:
    since = datetime.now(UTC) - timedelta(minutes=5)
    customer = save_customer(qb, "CDC Tenant")
    kept, deleted = save_invoice(qb, customer, 10.0), save_invoice(qb, customer, 20.0)
    deleted.delete(qb=qb)
    result = change_data_capture(
        [Invoice, Customer], since.strftime("%Y-%m-%dT%H:%M:%S+00:00"), qb=qb
    )
    invoices = {i.Id: i for i in result.Invoice}
    # qbo-api.md §7: deleted rows stay as {"domain","status":"Deleted","Id","MetaData"}.
    assert set(invoices) == {kept.Id, deleted.Id}
    assert getattr(invoices[deleted.Id], "status", None) == "Deleted"
    assert getattr(invoices[kept.Id], "status", None) is None
    assert [c.Id for c in result.Customer] == [customer.Id]


def test_it_omits_entities_without_changes(qb: QuickBooks) -> None:
    save_invoice(qb, save_customer(qb, "Earlier"))
    time.sleep(1.1)  # changedSince has one-second resolution
    since = datetime.now(UTC)
    time.sleep(1.1)
    later = save_customer(qb, "Later")
    result = change_data_capture(
        [Invoice, Customer], since.strftime("%Y-%m-%dT%H:%M:%S+00:00"), qb=qb
    )
    # qbo-api.md §7: an entity with no changes is simply absent from the QueryResponse list.
    assert not hasattr(result, "Invoice")
    assert [c.Id for c in result.Customer] == [later.Id]


def test_it_answers_cdc_with_the_recorded_envelope(qb: QuickBooks) -> None:
    save_customer(qb, "Envelope")
    body = qb.change_data_capture("Customer", "2011-10-10T09:00:00-07:00")
    # cdc/basic.yml: {"CDCResponse":[{"QueryResponse":[{"<Entity>":[...],"startPosition","maxResults"}]}]}
    assert set(body) == {"CDCResponse", "time"}
    (query,) = body["CDCResponse"][0]["QueryResponse"]
    assert set(query) == {"Customer", "startPosition", "maxResults"}
    assert query["maxResults"] == len(query["Customer"]) == 1


def test_it_lists_deleted_rows_as_stubs_after_active_ones(qb: QuickBooks) -> None:
    customer = save_customer(qb, "Stub Tenant")
    gone = save_invoice(qb, customer, 20.0)
    kept = save_invoice(qb, customer, 10.0)
    gone.delete(qb=qb)
    body = qb.change_data_capture("Invoice", "2011-10-10T09:00:00-07:00")
    (query,) = body["CDCResponse"][0]["QueryResponse"]
    rows = query["Invoice"]
    # qbo-api.md §7: a deleted row is {"domain","status":"Deleted","Id","MetaData":
    # {"LastUpdatedTime"}} and comes after the active ones.
    assert [row["Id"] for row in rows] == [kept.Id, gone.Id]
    stub = rows[1]
    assert set(stub) == {"domain", "status", "Id", "MetaData"}
    assert stub["status"] == "Deleted" and stub["domain"] == "QBO"
    assert set(stub["MetaData"]) == {"LastUpdatedTime"}
