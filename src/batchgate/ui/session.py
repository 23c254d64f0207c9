"""Signing in to the dashboard, and refusing forms posted from other sites.

The cookie holds the key's SHA-256 digest, never the key: the digest is what the database
stores, so a request authenticates by looking it up, and revoking the key ends the session.
It is HttpOnly, SameSite=Strict, scoped to /ui, and Secure when the request came over https.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response

from batchgate.auth.keys import hash_key
from batchgate.auth.service import authenticate_key_hash
from batchgate.errors import BatchgateError
from batchgate.http.deps import SessionDep

COOKIE = "batchgate_ui"
COOKIE_PATH = "/ui"


class CrossSiteRequest(BatchgateError):
    """This form was sent from another site, so it was refused."""

    status_code = 403
    error_type = "permission_error"
    default_code = "cross_site_request"


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def sign_in(request: Request, response: Response, key: str) -> None:
    response.set_cookie(
        COOKIE,
        hash_key(key),
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )


def sign_out(request: Request, response: Response) -> None:
    response.delete_cookie(
        COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict", secure=_secure(request)
    )


def has_cookie(request: Request) -> bool:
    return COOKIE in request.cookies


async def get_ui_tenant(request: Request, session: SessionDep) -> str:
    """The signed-in tenant; AuthenticationFailed (a redirect to the login page) otherwise."""
    return await authenticate_key_hash(session, request.cookies.get(COOKIE))


def check_same_origin(request: Request) -> None:
    """`Origin` (or, without it, `Referer`) must name this host when the browser sends one.

    SameSite=Strict already keeps the cookie off cross-site requests; this also covers the
    login form (login CSRF) and browsers that ignore SameSite.
    """
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source:
        return
    parts = urlsplit(source)
    host = request.headers.get("host", "").lower()
    if not host or parts.netloc.lower() != host:
        raise CrossSiteRequest()
    if _secure(request) and parts.scheme != "https":
        raise CrossSiteRequest()


UiTenantDep = Annotated[str, Depends(get_ui_tenant)]
SameOrigin = Depends(check_same_origin)
