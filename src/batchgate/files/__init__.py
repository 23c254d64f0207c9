"""The /v1/files resource."""
