from __future__ import annotations

from django.urls import path

from sync_engine import views

app_name = "sync_engine"
urlpatterns = [
    path("", views.overview, name="overview"),
]
