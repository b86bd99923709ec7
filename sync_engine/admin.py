from __future__ import annotations

from django.contrib import admin

from sync_engine import models


class SyncRunProgressInline(admin.TabularInline):
    model = models.SyncRunProgress
    extra = 0
    can_delete = False
    readonly_fields = ["entity", "total", "done", "created", "updated", "skipped", "failed"]


@admin.register(models.SyncRun)
class SyncRunAdmin(admin.ModelAdmin):
    list_display = [
        "pk",
        "company",
        "trigger",
        "record_entity",
        "status",
        "queued_at",
        "started_at",
        "finished_at",
        "error_kind",
    ]
    list_filter = ["status", "trigger", "error_kind", "company__group", "company"]
    search_fields = ["company__name", "error_message", "worker"]
    date_hierarchy = "queued_at"
    list_select_related = ["company"]
    raw_id_fields = ["company", "requested_by"]
    inlines = [SyncRunProgressInline]


@admin.register(models.SyncItemResult)
class SyncItemResultAdmin(admin.ModelAdmin):
    list_display = [
        "attempted_at",
        "company",
        "entity",
        "record_label",
        "qbo_id",
        "direction",
        "outcome",
        "error_code",
        "resolved_at",
    ]
    list_filter = ["outcome", "direction", "entity", "resolution", "company"]
    search_fields = ["record_label", "qbo_id", "message", "detail"]
    date_hierarchy = "attempted_at"
    list_select_related = ["company"]
    raw_id_fields = ["run", "company", "resolved_by"]


@admin.register(models.SyncMessage)
class SyncMessageAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "company",
        "entity",
        "record_label",
        "direction",
        "operation",
        "http_status",
        "outcome",
        "request_id",
    ]
    list_filter = ["outcome", "direction", "entity", "operation", "company"]
    search_fields = ["record_label", "qbo_id", "request_id", "text"]
    date_hierarchy = "created_at"
    list_select_related = ["company"]
    raw_id_fields = ["company", "run"]
