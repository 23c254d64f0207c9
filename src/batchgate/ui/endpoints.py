"""`/ui`: the dashboard's pages, thin handlers over the batches and files services.

Pages that show unfinished batches carry `data-refresh` (the URL of their live fragment,
`?partial=1`); `static/ui.js` re-fetches it every 2 s and stops once everything shown is
terminal. Forms are POSTs, checked for a same-site `Origin` / `Referer`.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from batchgate.auth.service import authenticate, authenticate_key_hash
from batchgate.batches import service as batches
from batchgate.errors import AuthenticationFailed
from batchgate.files import service as files
from batchgate.http.deps import RuntimeDep, SessionDep
from batchgate.kit.clock import now_s
from batchgate.kit.content_disposition import attachment
from batchgate.ui import service, views
from batchgate.ui.render import LOGIN_URL, PREFIX, page, static_response
from batchgate.ui.session import (
    COOKIE,
    SameOrigin,
    UiTenantDep,
    has_cookie,
    sign_in,
    sign_out,
)

router = APIRouter(prefix=PREFIX, include_in_schema=False)

PAGE_SIZE = 50
_BAD_KEY = "That API key is not valid, or it has been revoked."


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _refresh_url(path: str, **params: str | None) -> str:
    query = {k: v for k, v in params.items() if v is not None}
    return f"{path}?{urlencode({**query, 'partial': '1'})}"


@router.get("/login")
async def login_form(request: Request, session: SessionDep) -> Response:
    if has_cookie(request):
        try:
            await authenticate_key_hash(session, request.cookies.get(COOKIE))
            return _see_other(PREFIX)
        except AuthenticationFailed:
            pass
    return page("login.html", error=None)


@router.post("/login", dependencies=[SameOrigin])
async def login(
    request: Request, session: SessionDep, api_key: Annotated[str, Form()] = ""
) -> Response:
    key = api_key.strip()
    try:
        await authenticate(session, f"Bearer {key}")
    except AuthenticationFailed:
        error = _BAD_KEY if key else "Enter an API key."
        refused = page("login.html", status_code=401, error=error)
        sign_out(request, refused)
        return refused
    response = _see_other(PREFIX)
    sign_in(request, response, key)
    return response


@router.api_route("/logout", methods=["GET", "POST"], dependencies=[SameOrigin])
async def logout(request: Request) -> Response:
    response = _see_other(LOGIN_URL)
    sign_out(request, response)
    return response


@router.get("")
async def batches_page(
    session: SessionDep, tenant: UiTenantDep, after: str | None = None, partial: bool = False
) -> Response:
    """The tenant's batches, newest first, `PAGE_SIZE` a page (the API's cursor: `after`)."""
    rows = await batches.list_batches(session, tenant, after=after, limit=PAGE_SIZE)
    shown = rows[:PAGE_SIZE]
    return page(
        "_batches.html" if partial else "batches.html",
        signed_in=True,
        batches=shown,
        after=after,
        older=shown[-1].id if len(rows) > PAGE_SIZE else None,
        live=views.any_live(shown),
        refresh_url=_refresh_url(PREFIX, after=after),
    )


@router.get("/batches/{batch_id}")
async def batch_page(
    batch_id: str,
    runtime: RuntimeDep,
    session: SessionDep,
    tenant: UiTenantDep,
    partial: bool = False,
) -> Response:
    batch = await batches.get(session, tenant, batch_id)
    now = now_s()
    preview = None
    if batch.error_file_id is not None:
        preview = await service.error_preview(session, runtime.storage, tenant, batch.error_file_id)
    return page(
        "_batch.html" if partial else "batch.html",
        signed_in=True,
        batch=batch,
        files=await service.batch_files(session, tenant, batch),
        preview=preview,
        live=views.is_live(batch),
        cancellable=views.cancellable(batch),
        timeline=views.timeline(batch, now),
        usage=views.usage(batch),
        now=now,
        refresh_url=_refresh_url(f"{PREFIX}/batches/{quote(batch.id)}"),
    )


@router.post("/batches/{batch_id}/cancel", dependencies=[SameOrigin])
async def cancel_batch(batch_id: str, session: SessionDep, tenant: UiTenantDep) -> Response:
    batch = await batches.cancel(session, tenant, batch_id)
    return _see_other(f"{PREFIX}/batches/{quote(batch.id)}")


@router.get("/files/{file_id}/content")
async def download_file(
    file_id: str, runtime: RuntimeDep, session: SessionDep, tenant: UiTenantDep
) -> StreamingResponse:
    """The same bytes as `GET /v1/files/{id}/content`, streamed, as an attachment."""
    row, chunks = await files.content(session, runtime.storage, tenant, file_id)
    headers = {
        "content-length": str(row.bytes),
        "content-disposition": attachment(row.filename),
        "x-content-type-options": "nosniff",
        "cache-control": "no-store",
    }
    return StreamingResponse(chunks, media_type="application/octet-stream", headers=headers)


@router.get("/static/{name}")
async def static_asset(name: str) -> Response:
    return static_response(name)
