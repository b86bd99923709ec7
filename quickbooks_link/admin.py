from __future__ import annotations

from django.contrib import admin

from quickbooks_link import models


@admin.register(models.QuickBooksConnection)
class QuickBooksConnectionAdmin(admin.ModelAdmin):
    """Tokens are never shown: only when they expire."""

    list_display = [
        "company",
        "qbo_company_name",
        "realm_id",
        "connected_at",
        "onboarded_at",
        "reconnect_required_at",
        "sync_from_date",
    ]
    list_filter = [
        ("connected_at", admin.EmptyFieldListFilter),
        ("onboarded_at", admin.EmptyFieldListFilter),
        ("reconnect_required_at", admin.EmptyFieldListFilter),
        "qbo_country",
    ]
    search_fields = ["company__name", "qbo_company_name", "realm_id"]
    list_select_related = ["company"]
    readonly_fields = [
        "realm_id",
        "token_generation",
        "access_token_expires_at",
        "refresh_token_expires_at",
        "refresh_token_hard_expires_at",
        "created_at",
        "updated_at",
    ]
    raw_id_fields = ["company", "connected_by"]


@admin.register(models.ExternalLink)
class ExternalLinkAdmin(admin.ModelAdmin):
    list_display = [
        "company",
        "qbo_entity",
        "qbo_id",
        "sync_token",
        "last_synced_at",
        "unlinked_at",
    ]
    list_filter = ["qbo_entity", ("unlinked_at", admin.EmptyFieldListFilter), "company"]
    search_fields = ["qbo_id", "invoice__number", "credit_note__number", "tenant__name"]
    list_select_related = ["company"]
    raw_id_fields = [
        "company",
        "unlinked_by",
        "tenant",
        "invoice",
        "credit_note",
        "payment",
        "charge_code",
        "tax_rate",
        "property",
    ]


@admin.register(models.QboReferenceRecord)
class QboReferenceRecordAdmin(admin.ModelAdmin):
    list_display = ["name", "qbo_entity", "qbo_id", "active", "company", "refreshed_at"]
    list_filter = ["qbo_entity", "active", "company"]
    search_fields = ["name", "qbo_id"]
    list_select_related = ["company"]


@admin.register(models.ApiPermit)
class ApiPermitAdmin(admin.ModelAdmin):
    """Requests to QuickBooks counted by the database limiter (only used without Redis)."""

    list_display = ["realm_id", "batch", "lease_until", "done_at"]
    list_filter = ["batch", ("lease_until", admin.EmptyFieldListFilter)]
    search_fields = ["realm_id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
