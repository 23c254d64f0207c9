"""`POST /v1/batches` with bad input: 400 (never 422) naming the parameter; nothing created."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from support.api import (
    assert_error,
    new_client,
    new_key,
    raw_http,
    settle,
    upload_batch_input,
)
from support.stacks import Stack


def create_rejected(
    stack: Stack, body: dict[str, Any] | None = None, *, with_file: bool = True, **kw: Any
) -> dict[str, Any]:
    """POST /batches with a valid upload's id plus `body`; returns the 400 error object after
    checking that the tenant still has no batch."""
    key = new_key(stack)
    client = new_client(stack, key)
    payload: dict[str, Any] = {"endpoint": "/v1/embeddings", "completion_window": "24h"}
    if with_file:
        payload["input_file_id"] = upload_batch_input(client).id
    payload.update(body or {})
    with raw_http(stack, key) as http:
        response = http.post("batches", json=payload)
    error = assert_error(response, 400, **kw)
    assert list(client.batches.list()) == []
    return error


class TestInputFile:
    def test_unknown_file(self, stack: Stack) -> None:
        error = create_rejected(
            stack, {"input_file_id": "file-doesnotexist"}, param="input_file_id"
        )
        assert "file-doesnotexist" in error["message"]

    def test_another_tenants_file_looks_unknown(self, stack: Stack) -> None:
        owner = new_client(stack)
        theirs = upload_batch_input(owner).id
        unknown = "file-" + "0" * (len(theirs) - len("file-"))
        client = new_client(stack)
        errors = []
        for file_id in (theirs, unknown):
            with pytest.raises(openai.BadRequestError) as caught:
                client.batches.create(
                    input_file_id=file_id, endpoint="/v1/embeddings", completion_window="24h"
                )
            error = assert_error(caught.value.response, 400, param="input_file_id")
            errors.append({**error, "message": error["message"].replace(file_id, "<id>")})
        assert errors[0] == errors[1]
        assert list(client.batches.list()) == []
        assert list(owner.batches.list()) == []

    def test_user_data_file(self, stack: Stack) -> None:
        key = new_key(stack)
        client = new_client(stack, key)
        notes = client.files.create(file=("notes.jsonl", b'{"a": 1}\n'), purpose="user_data")
        with pytest.raises(openai.BadRequestError) as caught:
            client.batches.create(
                input_file_id=notes.id, endpoint="/v1/embeddings", completion_window="24h"
            )
        assert_error(
            caught.value.response, 400, param="input_file_id", contains=[notes.id, "user_data"]
        )
        assert list(client.batches.list()) == []

    def test_deleted_file(self, stack: Stack) -> None:
        client = new_client(stack)
        upload = upload_batch_input(client)
        client.files.delete(upload.id)
        with pytest.raises(openai.BadRequestError) as caught:
            client.batches.create(
                input_file_id=upload.id, endpoint="/v1/embeddings", completion_window="24h"
            )
        assert_error(caught.value.response, 400, param="input_file_id", contains=[upload.id])


class TestParameters:
    @pytest.mark.parametrize("endpoint", ["/v1/audio/speech", "/v1/embeddings/", "embeddings"])
    def test_unsupported_endpoint(self, stack: Stack, endpoint: str) -> None:
        error = create_rejected(stack, {"endpoint": endpoint}, param="endpoint")
        assert f"'{endpoint}'" in error["message"]
        assert "/v1/chat/completions" in error["message"]  # lists what is supported

    @pytest.mark.parametrize("window", ["48h", "1h", "24", ""])
    def test_bad_completion_window(self, stack: Stack, window: str) -> None:
        error = create_rejected(stack, {"completion_window": window}, param="completion_window")
        assert f"'{window}'" in error["message"]
        assert "24h" in error["message"]

    @pytest.mark.parametrize(
        ("metadata", "mentions"),
        [
            ({f"k{i}": "v" for i in range(17)}, "16"),
            ({"k" * 65: "v"}, "64"),
            ({"k": "v" * 513}, "512"),
        ],
        ids=["17-pairs", "65-char-key", "513-char-value"],
    )
    def test_metadata_limits(self, stack: Stack, metadata: dict[str, str], mentions: str) -> None:
        create_rejected(stack, {"metadata": metadata}, param="metadata", contains=[mentions])

    def test_metadata_at_the_limits_is_accepted(self, stack: Stack) -> None:
        client = new_client(stack)
        metadata = {f"{i:02d}" + "k" * 62: "v" * 512 for i in range(16)}
        batch = client.batches.create(
            input_file_id=upload_batch_input(client).id,
            endpoint="/v1/embeddings",
            completion_window="24h",
            metadata=metadata,
        )
        assert batch.metadata == metadata
        (ended,) = settle(client, [batch.id])
        assert ended.metadata == metadata

    def test_metadata_values_must_be_strings(self, stack: Stack) -> None:
        error = create_rejected(stack, {"metadata": {"n": 1}})
        assert error["param"].startswith("metadata")

    @pytest.mark.parametrize(
        ("output_expires_after", "param"),
        [
            ({"anchor": "created_at", "seconds": 60}, "seconds"),
            ({"anchor": "created_at", "seconds": 2592001}, "seconds"),
            ({"anchor": "completed_at", "seconds": 3600}, "anchor"),
        ],
    )
    def test_bad_output_expires_after(
        self, stack: Stack, output_expires_after: dict[str, Any], param: str
    ) -> None:
        error = create_rejected(
            stack,
            {"output_expires_after": output_expires_after},
            contains=[f"output_expires_after[{param}]"],
        )
        assert error["param"] in (f"output_expires_after.{param}", f"output_expires_after[{param}]")

    @pytest.mark.parametrize("missing", ["input_file_id", "endpoint", "completion_window"])
    def test_missing_required_parameter(self, stack: Stack, missing: str) -> None:
        key = new_key(stack)
        client = new_client(stack, key)
        body = {
            "input_file_id": upload_batch_input(client).id,
            "endpoint": "/v1/embeddings",
            "completion_window": "24h",
        }
        del body[missing]
        with raw_http(stack, key) as http:
            response = http.post("batches", json=body)
        assert_error(
            response,
            400,
            param=missing,
            code="missing_required_parameter",
            contains=[f"'{missing}'"],
        )

    def test_unknown_extra_field(self, stack: Stack) -> None:
        create_rejected(
            stack,
            {"priority": "high"},
            param="priority",
            contains=["Unrecognized request argument", "priority"],
        )

    def test_wrong_type(self, stack: Stack) -> None:
        error = create_rejected(stack, {"endpoint": 42}, param="endpoint")
        assert error["code"] == "invalid_value"


class TestBody:
    def _post(self, stack: Stack, content: bytes) -> dict[str, Any]:
        key = new_key(stack)
        with raw_http(stack, key) as http:
            response = http.post(
                "batches", content=content, headers={"content-type": "application/json"}
            )
        error = assert_error(response, 400, param=None)
        assert list(new_client(stack, key).batches.list()) == []
        return error

    def test_malformed_json(self, stack: Stack) -> None:
        error = self._post(stack, b"{not json")
        assert error["message"].startswith("We could not parse the JSON body of your request.")

    @pytest.mark.parametrize("content", [b"[]", b'["input_file_id"]', b'"text"', b"42"])
    def test_body_that_is_not_an_object(self, stack: Stack, content: bytes) -> None:
        error = self._post(stack, content)
        assert "JSON object" in error["message"]

    def test_empty_body(self, stack: Stack) -> None:
        key = new_key(stack)
        with raw_http(stack, key) as http:
            response = http.post("batches")
        assert_error(response, 400, param=None, contains=["body", "JSON"])
        assert list(new_client(stack, key).batches.list()) == []
