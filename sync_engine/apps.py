from __future__ import annotations

from django.apps import AppConfig


class SyncEngineConfig(AppConfig):
    name = "sync_engine"
    verbose_name = "Sync engine"

    def ready(self) -> None:
        from sync_engine import receivers  # noqa: F401  (connects the signal receivers)
