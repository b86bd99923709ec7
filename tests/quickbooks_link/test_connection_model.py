from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from quickbooks_link.models import ExternalLink, QboEntity, QuickBooksConnection


def test_it_links_a_realm_to_one_company_only(acme_north, acme_south):
    QuickBooksConnection.objects.create(company=acme_north, realm_id="9130350000001")
    with pytest.raises(IntegrityError):
        QuickBooksConnection.objects.create(company=acme_south, realm_id="9130350000001")


def test_it_allows_many_companies_without_a_realm(acme_north, acme_south):
    QuickBooksConnection.objects.create(company=acme_north)
    QuickBooksConnection.objects.create(company=acme_south)
    assert QuickBooksConnection.objects.filter(realm_id="").count() == 2


@time_machine.travel(datetime.date(2026, 11, 22))
@pytest.mark.parametrize(
    ("sync_from", "message"),
    [
        (datetime.date(2017, 12, 31), "The Sync From date cannot be before 2018."),
        (datetime.date(2026, 11, 23), "The Sync From date cannot be in the future."),
    ],
)
def test_it_refuses_a_sync_from_date_out_of_range(acme_north, sync_from, message):
    link = QuickBooksConnection(company=acme_north, sync_from_date=sync_from)
    with pytest.raises(ValidationError) as caught:
        link.full_clean()
    assert caught.value.message_dict["sync_from_date"] == [message]


def test_it_rejects_a_sync_from_date_before_2018_in_the_database(acme_north):
    with pytest.raises(IntegrityError):
        QuickBooksConnection.objects.create(
            company=acme_north, sync_from_date=datetime.date(2017, 6, 1)
        )


class TestExternalLink:
    def test_it_points_at_the_record_of_its_entity(self, acme_north, tenant):
        link = ExternalLink.objects.create(
            company=acme_north, qbo_entity=QboEntity.CUSTOMER, qbo_id="58", tenant=tenant
        )
        assert link.record == tenant

    def test_it_rejects_a_record_of_another_entity(self, acme_north, tenant):
        with pytest.raises(IntegrityError):
            ExternalLink.objects.create(
                company=acme_north, qbo_entity=QboEntity.INVOICE, qbo_id="58", tenant=tenant
            )

    def test_it_rejects_a_link_to_no_record(self, acme_north):
        with pytest.raises(IntegrityError):
            ExternalLink.objects.create(
                company=acme_north, qbo_entity=QboEntity.CUSTOMER, qbo_id="58"
            )

    def test_it_rejects_a_second_link_to_one_quickbooks_customer(self, acme_north, tenant):
        from companies.models import Tenant

        twin = Tenant.objects.create(company=acme_north, name="Jane Doe (2)")
        ExternalLink.objects.create(
            company=acme_north, qbo_entity=QboEntity.CUSTOMER, qbo_id="58", tenant=tenant
        )
        with pytest.raises(IntegrityError):
            ExternalLink.objects.create(
                company=acme_north, qbo_entity=QboEntity.CUSTOMER, qbo_id="58", tenant=twin
            )

    def test_it_lets_two_tax_rates_map_to_one_tax_code(self, acme_north, sales_tax):
        from decimal import Decimal

        from companies.models import TaxRate

        exempt = TaxRate.objects.create(company=acme_north, name="Exempt", rate=Decimal(0))
        for rate in (sales_tax, exempt):
            ExternalLink.objects.create(
                company=acme_north, qbo_entity=QboEntity.TAX_CODE, qbo_id="NON", tax_rate=rate
            )
        assert ExternalLink.objects.filter(qbo_id="NON").count() == 2

    def test_it_allows_pending_creates_without_an_id(self, acme_north, tenant, make_invoice):
        invoice = make_invoice()
        ExternalLink.objects.create(
            company=acme_north, qbo_entity=QboEntity.CUSTOMER, tenant=tenant, pending_request_id="a"
        )
        ExternalLink.objects.create(
            company=acme_north,
            qbo_entity=QboEntity.INVOICE,
            invoice=invoice,
            pending_request_id="b",
        )
        assert ExternalLink.objects.filter(qbo_id="").count() == 2
