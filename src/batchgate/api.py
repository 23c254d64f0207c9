"""The `/v1` router: every resource's endpoints."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from batchgate.batches.endpoints import router as batches_router
from batchgate.files.endpoints import router as files_router
from batchgate.http.deps import reject_nul
from batchgate.webhooks.endpoints import event_types_router as webhook_event_types_router
from batchgate.webhooks.endpoints import router as webhooks_router

router = APIRouter(prefix="/v1", dependencies=[Depends(reject_nul)])
router.include_router(files_router)
router.include_router(batches_router)
router.include_router(webhooks_router)
router.include_router(webhook_event_types_router)
