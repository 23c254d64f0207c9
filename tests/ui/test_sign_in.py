"""Signing in to the dashboard: redirects, the cookie, wrong and revoked keys, CSRF checks."""

from __future__ import annotations

import hashlib

import pytest

from support.stacks import Stack
from ui.dashboard import (
    COOKIE,
    browser,
    finished_batch,
    keys_cli,
    set_cookie_headers,
    signed_in,
    slow_batch,
)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/ui"),
        ("GET", "/ui?after=batch_x"),
        ("GET", "/ui/batches/batch_123"),
        ("GET", "/ui/files/file-123/content"),
        ("POST", "/ui/batches/batch_123/cancel"),
    ],
)
def test_signed_out_pages_redirect_to_login(stack: Stack, method: str, path: str) -> None:
    with browser(stack) as http:
        response = http.request(method, path)
        assert response.status_code == 303
        assert response.headers["location"] == "/ui/login"
        # a made-up cookie value is no better than none, and gets cleared
        http.cookies.set(COOKIE, "0" * 64)
        again = http.request(method, path)
        assert again.status_code == 303
        assert any(h.startswith(f"{COOKIE}=") for h in set_cookie_headers(again))


def test_login_page_and_assets_are_public(stack: Stack) -> None:
    with browser(stack) as http:
        page = http.get("/ui/login")
        assert page.status_code == 200
        assert 'name="api_key"' in page.text
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert http.get("/ui/static/ui.css").headers["content-type"].startswith("text/css")
        assert http.get("/ui/static/ui.js").status_code == 200
        assert http.get("/ui/static/nope.css").status_code == 404


@pytest.mark.parametrize("key", ["sk-wrong-key", ""])
def test_wrong_key_is_the_login_page_again_with_401(stack: Stack, key: str) -> None:
    with browser(stack) as http:
        response = http.post("/ui/login", data={"api_key": key})
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("text/html")
        assert 'role="alert"' in response.text
        assert 'name="api_key"' in response.text
        assert http.cookies.get(COOKIE) is None
        assert http.get("/ui").status_code == 303


def test_sign_in_sets_a_hashed_strict_http_only_cookie(stack: Stack) -> None:
    key = stack.new_key()
    finished_batch(stack.client(key), total=1)
    with browser(stack) as http:
        response = http.post("/ui/login", data={"api_key": key})
        assert response.status_code == 303
        assert response.headers["location"] == "/ui"
        [header] = set_cookie_headers(response)
        digest = hashlib.sha256(key.encode()).hexdigest()
        attributes = [part.strip().lower() for part in header.split(";")]
        assert attributes[0] == f"{COOKIE}={digest}"
        assert "httponly" in attributes
        assert "samesite=strict" in attributes
        assert "path=/ui" in attributes
        assert "secure" not in attributes  # plain http here
        pages = [response, http.get("/ui"), http.get("/ui/login", follow_redirects=True)]
        assert pages[1].status_code == 200
        for page in pages:
            assert key not in page.text
            assert all(key not in h for h in set_cookie_headers(page))
        assert http.get("/ui/login").headers["location"] == "/ui"  # already signed in


def test_cookie_is_secure_over_https(stack: Stack) -> None:
    # uvicorn trusts X-Forwarded-Proto from loopback, as from a TLS-terminating proxy
    with browser(stack) as http:
        response = http.post(
            "/ui/login", data={"api_key": stack.new_key()}, headers={"x-forwarded-proto": "https"}
        )
        assert response.status_code == 303
        [header] = set_cookie_headers(response)
        assert "secure" in [part.strip().lower() for part in header.split(";")]


def test_logout_clears_the_cookie(stack: Stack) -> None:
    with signed_in(stack, stack.new_key()) as http:
        response = http.post("/ui/logout")
        assert response.status_code == 303
        assert response.headers["location"] == "/ui/login"
        assert http.cookies.get(COOKIE) is None
        assert http.get("/ui").status_code == 303


def test_revoked_key_cookie_stops_working(stack: Stack) -> None:
    key = stack.new_key()
    with signed_in(stack, key) as http:
        assert http.get("/ui").status_code == 200
        key_id = "key_" + hashlib.sha256(key.encode()).hexdigest()[:24]  # as `keys list` shows
        revoked = keys_cli(stack, "revoke", key_id)
        assert revoked.returncode == 0, revoked.stderr
        response = http.get("/ui")
        assert response.status_code == 303
        assert response.headers["location"] == "/ui/login"
        assert http.cookies.get(COOKIE) is None  # cleared by the redirect
        assert http.get("/ui/login").status_code == 200
        assert http.post("/ui/login", data={"api_key": key}).status_code == 401


def test_cancel_from_another_site_is_refused(stack: Stack) -> None:
    key = stack.new_key()
    client = stack.client(key)
    batch = slow_batch(client)
    path = f"/ui/batches/{batch.id}/cancel"
    with signed_in(stack, key) as http:
        here = str(http.base_url).rstrip("/")
        for headers in (
            {"origin": "https://evil.example"},
            {"origin": "null"},
            {"referer": "https://evil.example/page"},
        ):
            refused = http.post(path, headers=headers)
            assert refused.status_code == 403, headers
            assert "Forbidden" in refused.text
        assert client.batches.retrieve(batch.id).status == "in_progress"
        # a foreign login form is refused too (login CSRF)
        assert http.post("/ui/login", data={"api_key": key}, headers=headers).status_code == 403

        page = http.get(f"/ui/batches/{batch.id}")
        assert f'action="{path}"' in page.text
        accepted = http.post(path, headers={"origin": here, "referer": here + "/ui"})
        assert accepted.status_code == 303
        assert accepted.headers["location"] == f"/ui/batches/{batch.id}"
        assert client.batches.retrieve(batch.id).status in ("cancelling", "cancelled")
        assert f'action="{path}"' not in http.get(f"/ui/batches/{batch.id}").text
