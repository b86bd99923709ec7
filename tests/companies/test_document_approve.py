from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from companies.models import Invoice
from companies.services import document_approve


def test_it_approves_a_draft_with_a_tenant_and_lines(make_invoice):
    invoice = document_approve(document=make_invoice())
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.APPROVED


def test_it_refuses_an_invoice_without_lines(make_invoice):
    invoice = make_invoice(lines=())
    with pytest.raises(ValidationError) as caught:
        document_approve(document=invoice)
    assert caught.value.message_dict["lines"] == ["An approved document needs at least one line."]


def test_it_refuses_an_invoice_without_a_tenant(make_invoice):
    with pytest.raises(ValidationError) as caught:
        document_approve(document=make_invoice(tenant=None))
    assert "tenant" in caught.value.message_dict


def test_it_refuses_to_approve_a_void_invoice(make_invoice):
    with pytest.raises(ValidationError) as caught:
        document_approve(document=make_invoice(status=Invoice.Status.VOID))
    assert "status" in caught.value.message_dict
