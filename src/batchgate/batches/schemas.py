"""The Batch object, its create body and its list, as OpenAI's wire contract (§1.1, §2)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from batchgate.models import Batch

SUPPORTED_ENDPOINTS = (
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/embeddings",
    "/v1/responses",
    "/v1/moderations",
)


class ExpiresAfter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    anchor: str
    seconds: int


class BatchCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input_file_id: str
    endpoint: str
    completion_window: str
    metadata: dict[str, str] | None = None
    output_expires_after: ExpiresAfter | None = None


class BatchError(BaseModel):
    code: str | None
    message: str | None
    param: str | None = None
    line: int | None = None


class BatchErrors(BaseModel):
    object: Literal["list"] = "list"
    data: list[BatchError]


class BatchRequestCounts(BaseModel):
    total: int
    completed: int
    failed: int


class InputTokensDetails(BaseModel):
    cached_tokens: int


class OutputTokensDetails(BaseModel):
    reasoning_tokens: int


class BatchUsage(BaseModel):
    input_tokens: int
    input_tokens_details: InputTokensDetails
    output_tokens: int
    output_tokens_details: OutputTokensDetails
    total_tokens: int


class BatchObject(BaseModel):
    id: str
    object: Literal["batch"] = "batch"
    endpoint: str
    model: str | None
    errors: BatchErrors | None
    input_file_id: str
    completion_window: str
    status: str
    output_file_id: str | None
    error_file_id: str | None
    created_at: int
    in_progress_at: int | None
    expires_at: int | None
    finalizing_at: int | None
    completed_at: int | None
    failed_at: int | None
    expired_at: int | None
    cancelling_at: int | None
    cancelled_at: int | None
    request_counts: BatchRequestCounts
    usage: BatchUsage
    metadata: dict[str, str] | None = Field(default=None)

    @classmethod
    def of(cls, row: Batch) -> BatchObject:
        errors = None
        if row.errors:
            errors = BatchErrors(data=[BatchError(**e) for e in row.errors])
        return cls(
            id=row.id,
            endpoint=row.endpoint,
            model=row.model,
            errors=errors,
            input_file_id=row.input_file_id,
            completion_window=row.completion_window,
            status=row.status,
            output_file_id=row.output_file_id,
            error_file_id=row.error_file_id,
            created_at=row.created_at,
            in_progress_at=row.in_progress_at,
            expires_at=row.expires_at,
            finalizing_at=row.finalizing_at,
            completed_at=row.completed_at,
            failed_at=row.failed_at,
            expired_at=row.expired_at,
            cancelling_at=row.cancelling_at,
            cancelled_at=row.cancelled_at,
            request_counts=BatchRequestCounts(
                total=row.total, completed=row.completed, failed=row.failed
            ),
            usage=usage_of(row),
            metadata=row.metadata_,
        )


def usage_of(row: Batch) -> BatchUsage:
    return BatchUsage(
        input_tokens=row.input_tokens,
        input_tokens_details=InputTokensDetails(cached_tokens=row.cached_tokens),
        output_tokens=row.output_tokens,
        output_tokens_details=OutputTokensDetails(reasoning_tokens=row.reasoning_tokens),
        total_tokens=row.total_tokens,
    )


def error_entry(
    code: str, message: str, *, param: str | None = None, line: int | None = None
) -> dict[str, Any]:
    return {"code": code, "message": message, "param": param, "line": line}
