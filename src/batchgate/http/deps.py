"""FastAPI dependencies: the runtime, a transaction per request, the caller's tenant."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from batchgate.auth.service import authenticate
from batchgate.errors import InvalidRequest
from batchgate.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    # scope="function" below: the commit happens before the response is sent, so a client that
    # reads back what it just created always finds it.
    async with get_runtime(request).transaction() as session:
        yield session


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_tenant(request: Request, session: SessionDep) -> str:
    return await authenticate(session, request.headers.get("authorization"))


TenantDep = Annotated[str, Depends(get_tenant)]


async def get_uploader(request: Request) -> str:
    """The tenant, checked in a transaction of its own that ends at once: for endpoints that
    then stream a large body and must not hold the database meanwhile."""
    async with get_runtime(request).transaction() as session:
        return await authenticate(session, request.headers.get("authorization"))


UploaderDep = Annotated[str, Depends(get_uploader)]


async def reject_nul(request: Request) -> None:
    """No id, cursor, filter or JSON string we store may hold a NUL character (PostgreSQL
    refuses it): say so with a 400 instead of letting the database fail with a 500. JSON bodies
    here are small; multipart uploads are never read ahead (their lines are checked as JSONL)."""
    if "\x00" in request.url.path or "%00" in request.url.query.lower():
        raise InvalidRequest("The request path or query contains a NUL character.")
    is_json = request.headers.get("content-type", "").startswith("application/json")
    if is_json and b"\\u0000" in await request.body():
        raise InvalidRequest("The request body contains a NUL character (\\u0000).")
