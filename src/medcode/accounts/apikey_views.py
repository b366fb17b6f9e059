"""Thin views over `apikeys`: list, create (the key is shown once, on the response), revoke.

The account page includes the same section (accounts/_api_keys.html); its forms post here.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template import engines
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from . import apikeys

# A page of its own for the section, so a new key can be shown on the response that created it
# (never stored anywhere, not even in the session).
_PAGE = engines["django"].from_string("""{% extends "web/base.html" %}
{% block title %}API keys{% endblock %}
{% block content %}
<h1>Your API keys</h1>
{% include "accounts/_messages.html" %}
{% include "accounts/_api_keys.html" %}
<p><a href="{% url 'account' %}">Back to your account</a></p>
{% endblock %}""")


def _page(request: HttpRequest, status: int = 200, **context) -> HttpResponse:
    keys = list(request.user.api_keys.order_by("revoked", "-created"))
    return HttpResponse(_PAGE.render({"api_keys": keys, "api_keys_page": True, **context}, request), status=status)


def _back(request: HttpRequest) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return reverse("api_keys")


@never_cache
@login_required
@require_GET
def keys_page(request: HttpRequest) -> HttpResponse:
    return _page(request)


@never_cache
@login_required
@require_POST
def create(request: HttpRequest) -> HttpResponse:
    try:
        key, raw = apikeys.create_key(request.user, request.POST.get("name", ""))
    except apikeys.ApiKeyError as exc:
        messages.error(request, str(exc))
        return _page(request, status=400)
    return _page(request, new_api_key=raw, new_api_key_name=key.name)


@never_cache
@login_required
@require_POST
def revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    if apikeys.revoke_key(request.user, key_id):
        messages.success(request, "The key is revoked: calls with it now get 401.")
    else:
        messages.error(request, "There is no such active key.")
    return redirect(_back(request))
