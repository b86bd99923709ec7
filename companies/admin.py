from __future__ import annotations

from django.contrib import admin

from companies import models
from companies.services import document_totals_refresh


class MembershipInline(admin.TabularInline):
    model = models.Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(models.Group)
class GroupAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]
    inlines = [MembershipInline]


@admin.register(models.Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ["name", "group", "base_currency", "timezone", "created_at"]
    list_filter = ["group", "base_currency"]
    search_fields = ["name", "group__name"]


@admin.register(models.Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "group", "role", "created_at"]
    list_filter = ["role", "group"]
    search_fields = ["user__username", "user__email", "group__name"]
    autocomplete_fields = ["user", "group"]


@admin.register(models.Property)
class PropertyAdmin(admin.ModelAdmin):
    list_display = ["name", "company", "city", "postcode"]
    list_filter = ["company__group", "company"]
    search_fields = ["name", "address", "city"]


@admin.register(models.Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "company", "property", "email", "archived_at", "updated_at"]
    list_filter = ["company__group", "company", ("archived_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "email", "phone"]
    list_select_related = ["company", "property"]
    autocomplete_fields = ["property"]


@admin.register(models.TaxRate)
class TaxRateAdmin(admin.ModelAdmin):
    list_display = ["name", "rate", "company", "is_active"]
    list_filter = ["is_active", "company"]
    search_fields = ["name"]


@admin.register(models.ChargeCode)
class ChargeCodeAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "company", "default_tax_rate", "is_active"]
    list_filter = ["is_active", "company"]
    search_fields = ["code", "name"]


class DocumentAdmin(admin.ModelAdmin):
    """Invoices and credit notes: lines inline, totals recomputed after every save."""

    list_display = ["number", "company", "tenant", "issue_date", "status", "total", "updated_at"]
    list_filter = ["status", "company__group", "company", "issue_date"]
    search_fields = ["number", "tenant__name", "memo"]
    date_hierarchy = "issue_date"
    list_select_related = ["company", "tenant"]
    autocomplete_fields = ["tenant", "property"]
    readonly_fields = ["subtotal", "tax_total", "total", "created_at", "updated_at"]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        document_totals_refresh(document=form.instance)


class InvoiceLineInline(admin.TabularInline):
    model = models.InvoiceLine
    extra = 1
    fields = ["position", "charge_code", "description", "quantity", "unit_amount", "tax_rate"]


class CreditNoteLineInline(InvoiceLineInline):
    model = models.CreditNoteLine


@admin.register(models.Invoice)
class InvoiceAdmin(DocumentAdmin):
    list_display = [*DocumentAdmin.list_display[:4], "due_date", *DocumentAdmin.list_display[4:]]
    inlines = [InvoiceLineInline]


@admin.register(models.CreditNote)
class CreditNoteAdmin(DocumentAdmin):
    inlines = [CreditNoteLineInline]
    autocomplete_fields = [*DocumentAdmin.autocomplete_fields, "allocated_invoice"]


class PaymentAllocationInline(admin.TabularInline):
    model = models.PaymentAllocation
    extra = 1
    autocomplete_fields = ["invoice"]


@admin.register(models.Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = ["received_on", "tenant", "amount", "currency", "method", "origin", "company"]
    list_filter = ["origin", "method", "company__group", "company", "received_on"]
    search_fields = ["reference", "tenant__name"]
    date_hierarchy = "received_on"
    list_select_related = ["company", "tenant"]
    autocomplete_fields = ["tenant"]
    inlines = [PaymentAllocationInline]
