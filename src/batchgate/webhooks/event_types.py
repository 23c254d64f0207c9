"""The events batchgate sends: OpenAI's batch webhook events (no imports, so the CLI stays
quick to start)."""

BATCH_EVENT_TYPES = ("batch.completed", "batch.failed", "batch.expired", "batch.cancelled")
