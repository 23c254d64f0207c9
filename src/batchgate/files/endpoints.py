"""`/v1/files`: thin handlers over `files.service`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from batchgate.files import service
from batchgate.files.schemas import FileDeleted, FileObject
from batchgate.http.deps import RuntimeDep, SessionDep, TenantDep, UploaderDep
from batchgate.http.pagination import ListResponse, page
from batchgate.kit.content_disposition import attachment

router = APIRouter(prefix="/files", tags=["files"])


@router.post("", response_model=FileObject)
async def create_file(request: Request, runtime: RuntimeDep, tenant: UploaderDep) -> FileObject:
    """Upload a file (multipart: `file`, `purpose`, optional `expires_after[anchor|seconds]`).

    The body is streamed to storage; it is never held in memory.
    """
    limits = service.UploadLimits(
        max_file_bytes=runtime.settings.max_file_bytes,
        max_batch_file_bytes=runtime.settings.max_batch_file_bytes,
    )
    row = await service.upload(
        runtime.transaction,
        runtime.storage,
        tenant,
        request.stream(),
        request.headers.get("content-type"),
        limits,
    )
    return FileObject.of(row)


@router.get("", response_model=ListResponse[FileObject])
async def list_files(
    session: SessionDep,
    tenant: TenantDep,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 10_000,
    order: Literal["asc", "desc"] = "desc",
    purpose: str | None = None,
) -> ListResponse[FileObject]:
    rows = await service.list_files(
        session, tenant, after=after, limit=limit, order=order, purpose=purpose
    )
    return page([FileObject.of(r) for r in rows], limit=limit, ids=[r.id for r in rows])


@router.get("/{file_id}", response_model=FileObject)
async def retrieve_file(file_id: str, session: SessionDep, tenant: TenantDep) -> FileObject:
    return FileObject.of(await service.get(session, tenant, file_id))


@router.delete("/{file_id}", response_model=FileDeleted)
async def delete_file(
    file_id: str, runtime: RuntimeDep, session: SessionDep, tenant: TenantDep
) -> FileDeleted:
    await service.delete(session, runtime.storage, tenant, file_id)
    return FileDeleted(id=file_id)


@router.get("/{file_id}/content", response_class=StreamingResponse)
async def file_content(
    file_id: str, runtime: RuntimeDep, session: SessionDep, tenant: TenantDep
) -> StreamingResponse:
    row, chunks = await service.content(session, runtime.storage, tenant, file_id)
    headers = {"content-length": str(row.bytes), "content-disposition": attachment(row.filename)}
    return StreamingResponse(chunks, media_type="application/octet-stream", headers=headers)
