"""The dashboard at `/ui`: server-rendered pages over the batches and files services."""

from batchgate.ui.endpoints import router

__all__ = ["router"]
