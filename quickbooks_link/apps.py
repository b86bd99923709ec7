from __future__ import annotations

from django.apps import AppConfig


class QuickbooksLinkConfig(AppConfig):
    name = "quickbooks_link"
    verbose_name = "QuickBooks link"
