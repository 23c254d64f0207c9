"""FastAPI dependencies: the runtime, a transaction per request, the caller's tenant."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from batchgate.auth.service import authenticate
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
