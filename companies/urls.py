from __future__ import annotations

from django.urls import path

from companies import views

app_name = "companies"
urlpatterns = [
    path("companies/switch/", views.switch_company, name="switch"),
]
