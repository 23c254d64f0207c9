"""Templates, static assets and the HTML error page of the dashboard.

Every template is autoescaped (metadata, filenames and error messages come from clients or
upstreams), and every page carries a strict Content-Security-Policy: scripts and styles only
from /ui/static, no inline code, no framing.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined

from batchgate import __version__
from batchgate.errors import AuthenticationFailed, BatchgateError, NotFound
from batchgate.kit.clock import now_s
from batchgate.ui import views
from batchgate.ui.session import has_cookie, sign_out

PREFIX = "/ui"
LOGIN_URL = f"{PREFIX}/login"

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}

_MEDIA_TYPES = {"css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8"}


def _load_static() -> dict[str, tuple[bytes, str]]:
    """name -> (bytes, short content hash); read once, served from memory."""
    assets = {}
    for entry in resources.files("batchgate.ui").joinpath("static").iterdir():
        if entry.name.rsplit(".", 1)[-1] in _MEDIA_TYPES:
            data = entry.read_bytes()
            assets[entry.name] = (data, hashlib.sha256(data).hexdigest()[:12])
    return assets


STATIC = _load_static()


def static_url(name: str) -> str:
    return f"{PREFIX}/static/{name}?v={STATIC[name][1]}"


def static_response(name: str) -> Response:
    if name not in STATIC:
        raise NotFound(f"No such file: {name}")
    data, _ = STATIC[name]
    media_type = _MEDIA_TYPES[name.rsplit(".", 1)[-1]]
    headers = {"cache-control": "public, max-age=86400", "x-content-type-options": "nosniff"}
    return Response(data, media_type=media_type, headers=headers)


env = Environment(
    loader=PackageLoader("batchgate.ui", "templates"),
    autoescape=True,  # every template, whatever its name
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
env.filters["utc"] = views.utc
env.globals.update(
    static_url=static_url,
    ago=views.ago,
    duration=views.duration,
    progress=views.progress,
    is_live=views.is_live,
    finished_at=views.finished_at,
    metadata_summary=views.metadata_summary,
    version=__version__,
    prefix=PREFIX,
)


def render(name: str, **context: Any) -> str:
    return env.get_template(name).render({"now": now_s(), "signed_in": False, **context})


def page(name: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(render(name, **context), status_code=status_code, headers=SECURITY_HEADERS)


def handles(request: Request) -> bool:
    """Errors on dashboard paths become HTML pages; everything else keeps the JSON envelope."""
    path = request.url.path
    return path == PREFIX or path.startswith(PREFIX + "/")


def error_page(request: Request, error: BatchgateError) -> Response:
    """The dashboard's rendering of the error tree: sign-in redirects, else a small page."""
    if isinstance(error, AuthenticationFailed):
        response: Response = RedirectResponse(LOGIN_URL, status_code=303)
        if has_cookie(request):  # revoked key or a forged value: forget it
            sign_out(request, response)
        return response
    titles = {400: "Bad request", 403: "Forbidden", 404: "Not found", 405: "Not allowed"}
    title = titles.get(error.status_code, "Something went wrong")
    return page(
        "error.html",
        status_code=error.status_code,
        title=title,
        error=error,
        signed_in=has_cookie(request),
    )
