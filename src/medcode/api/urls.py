"""Mounts API v1 at /api/v1/; anything else under /api/ answers in the API's error shape too."""

from functools import wraps

from django.http import Http404, JsonResponse
from django.urls import path, re_path, reverse

from . import search as _search  # noqa: F401  registers GET /api/v1/search on the v1 NinjaAPI
from medcode.careers import api as _jobs  # noqa: F401  GET /api/v1/jobs and /api/v1/jobs/{id}
from . import edits as _edits  # noqa: F401  POST /api/v1/edits/check (the claim edit checker)
from . import assistant as _assistant  # noqa: F401  POST /api/v1/assistant/ask (and /ask/stream)
from . import case2code as _case2code  # noqa: F401  POST /api/v1/case2code (clinical note -> codes)
from .errors import error_response
from .v1 import api


def _json_errors(view):
    """Django-level outcomes django-ninja does not shape: 405 (wrong method) and a raised 404."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            response = view(request, *args, **kwargs)
        except Http404:
            return error_response(404, "not_found", "there is no such API resource")
        if response.status_code == 405 and "json" not in response.get("Content-Type", ""):
            allowed = response.get("Allow", "")
            shaped = error_response(405, "method_not_allowed", f"{request.method} is not allowed here; use {allowed}")
            shaped["Allow"] = allowed
            return shaped
        return response

    wrapper.csrf_exempt = True
    return wrapper


def api_index(request, **kwargs):
    return JsonResponse({"name": api.title, "version": api.version,
                         "docs": reverse("api-v1:openapi-view"), "openapi": reverse("api-v1:openapi-json")})


def api_not_found(request, rest=""):
    return error_response(404, "not_found", f"there is no API resource at {request.path}; see /api/v1/docs")


_patterns, _app, _namespace = api.urls
for _p in _patterns:
    _p.callback = _json_errors(api_index if _p.name == "api-root" else _p.callback)

urlpatterns = [
    path("api/v1/", (_patterns, _app, _namespace)),
    re_path(r"^api/(?P<rest>.*)$", api_not_found),
]
