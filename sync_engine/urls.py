from __future__ import annotations

from django.urls import path

from sync_engine import views, webhooks

app_name = "sync_engine"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("overview/live/", views.overview_body, name="overview_body"),
    path("companies/<int:pk>/sync/bell/", views.bell, name="bell"),
    path("companies/<int:pk>/sync/start/", views.start_sync, name="start"),
    path("companies/<int:pk>/sync/results/", views.results, name="results"),
    path("companies/<int:pk>/sync/results/act/", views.result_action, name="result_action"),
    path("companies/<int:pk>/sync/results/live/", views.results_live, name="results_live"),
    path("companies/<int:pk>/sync/history/", views.history, name="history"),
    path("companies/<int:pk>/records/<slug:entity>/<int:record_id>/", views.record, name="record"),
    path("companies/<int:pk>/sync/messages/", views.message_log_view, name="messages"),
    path("quickbooks/webhooks/", webhooks.quickbooks_webhook, name="quickbooks_webhook"),
]
