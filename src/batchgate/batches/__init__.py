"""The /v1/batches resource."""
