from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("", include("companies.urls")),
    path("", include("quickbooks_link.urls")),
    path("", include("sync_engine.urls")),
]
