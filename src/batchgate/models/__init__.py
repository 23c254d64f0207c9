"""Every ORM model; Alembic reads `Base.metadata` from here."""

from batchgate.db.base import Base
from batchgate.models.batch import Batch, BatchStatus
from batchgate.models.batch_request import BatchRequest, LineState
from batchgate.models.file import FilePurpose, StoredFile
from batchgate.models.tenant import ApiKey, Tenant
from batchgate.models.webhook import DeliveryState, WebhookDelivery, WebhookEndpoint

__all__ = [
    "ApiKey",
    "Base",
    "Batch",
    "BatchRequest",
    "BatchStatus",
    "DeliveryState",
    "FilePurpose",
    "LineState",
    "StoredFile",
    "Tenant",
    "WebhookDelivery",
    "WebhookEndpoint",
]
