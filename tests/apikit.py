"""Shared by the JSON API tests: a POST as a guest or with a key, a key per plan, the error envelope."""

from __future__ import annotations

import json
import uuid

from medcode.accounts import apikeys
from medcode.accounts.models import User


def post_json(client, url: str, body, key: str | None = None, addr: str = "203.0.113.20", raw: bool = False,
              **extra):
    """POST `body` as JSON (or as given, raw) from `addr`, with the key as a bearer token when given."""
    headers = {"REMOTE_ADDR": addr, **extra}
    if key:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    data = body if raw else json.dumps(body)
    return client.post(url, data, content_type="application/json", **headers)


def key_for(plan: str = "free") -> str:
    """An API key of a new verified user on the plan."""
    user = User.objects.create_user(f"{plan}-{uuid.uuid4().hex[:8]}@example.com", None, plan=plan,
                                    email_verified=True)
    return apikeys.create_key(user, "test")[1]


def assert_error(r, status: int, code: str) -> dict:
    """The response is the API's error envelope with that status and code; its error object."""
    assert r.status_code == status, r.content
    doc = r.json()
    assert set(doc) == {"error"} and doc["error"]["code"] == code and doc["error"]["message"]
    return doc["error"]
