"""API key pages, mounted at /account/keys/."""

from django.urls import path

from . import apikey_views

urlpatterns = [
    path("", apikey_views.keys_page, name="api_keys"),
    path("create/", apikey_views.create, name="api_key_create"),
    path("<int:key_id>/revoke/", apikey_views.revoke, name="api_key_revoke"),
]
