"""`GET /metrics` in the Prometheus text format (unauthenticated, like /healthz: expose it only
where your scraper can reach it)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from batchgate.http.deps import SessionDep
from batchgate.observability.metrics import CONTENT_TYPE, exposition, refresh_database_gauges

router = APIRouter(tags=["observability"])


@router.get("/metrics", response_class=Response)
async def metrics(session: SessionDep) -> Response:
    await refresh_database_gauges(session)
    return Response(exposition(), media_type=CONTENT_TYPE)
