from __future__ import annotations

from django.urls import path

from quickbooks_link import onboarding_views, views

app_name = "quickbooks_link"
urlpatterns = [
    path("quickbooks/callback/", views.callback, name="callback"),
    path("companies/<int:pk>/integrations/quickbooks/", views.integration, name="integration"),
    path("companies/<int:pk>/integrations/quickbooks/connect/", views.connect, name="connect"),
    path(
        "companies/<int:pk>/integrations/quickbooks/sync-from/",
        views.sync_from,
        name="sync_from",
    ),
    path(
        "companies/<int:pk>/integrations/quickbooks/disconnect/",
        views.disconnect,
        name="disconnect",
    ),
]

urlpatterns += [
    path(
        "companies/<int:pk>/integrations/quickbooks/onboarding/",
        onboarding_views.start,
        name="onboarding",
    ),
    path(
        "companies/<int:pk>/integrations/quickbooks/onboarding/preview/",
        onboarding_views.preview,
        name="onboarding_preview",
    ),
    path(
        "companies/<int:pk>/integrations/quickbooks/onboarding/refresh/",
        onboarding_views.refresh_references,
        name="onboarding_refresh",
    ),
    path(
        "companies/<int:pk>/integrations/quickbooks/onboarding/<slug:step>/",
        onboarding_views.step_view,
        name="onboarding_step",
    ),
]
