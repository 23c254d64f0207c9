"""`POST /v1/files` with bad input: exact statuses, messages that name the problem, no leftovers.

httpx is used directly wherever the SDK cannot produce the input (missing parts, non-multipart
bodies); JSONL problems go through the SDK, as a client would hit them.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import openai
import pytest

from support.api import (
    assert_error,
    embedding_lines,
    jsonl,
    new_client,
    new_key,
    raw_http,
    stored_objects,
    temp_objects,
    upload_raw,
)
from support.stacks import Stack

GOOD_LINE = json.dumps(embedding_lines(1)[0]).encode()
MAX_BATCH_FILE_BYTES = 1_000_000  # TEST_SETTINGS
MAX_FILE_BYTES = 2_000_000


def rejected(client: openai.OpenAI, data: bytes, purpose: Any = "batch") -> openai.APIStatusError:
    with pytest.raises(openai.APIStatusError) as caught:
        client.files.create(file=("input.jsonl", data), purpose=purpose)
    return caught.value


def jsonl_of_size(size: int) -> bytes:
    """Valid JSONL of exactly `size` bytes, unique to this call."""
    marker = secrets.token_hex(8)
    line = json.dumps({"custom_id": marker, "pad": ""}).encode()
    pad = 1000 - len(line) - 1
    one = json.dumps({"custom_id": marker, "pad": "x" * pad}).encode() + b"\n"
    assert len(one) == 1000
    data = one * (size // 1000)
    rest = size - len(data)
    if rest:
        assert rest > len(line) + 1
        data += json.dumps({"custom_id": marker, "pad": "y" * (rest - len(line) - 1)}).encode()
        data += b"\n"
    assert len(data) == size
    return data


class TestJsonlFormat:
    def test_empty_file(self, stack: Stack) -> None:
        error = rejected(new_client(stack), b"")
        assert_error(error.response, 400, param="file", code="invalid_file_format")
        assert "empty" in error.body["message"]  # type: ignore[index]

    def test_only_blank_lines_is_empty(self, stack: Stack) -> None:
        error = rejected(new_client(stack), b"\n  \n\r\n")
        assert_error(error.response, 400, code="invalid_file_format", contains=["empty"])

    def test_non_json_line_names_the_line(self, stack: Stack) -> None:
        data = GOOD_LINE + b"\n{this is not json}\n" + GOOD_LINE + b"\n"
        error = rejected(new_client(stack), data)
        assert_error(
            error.response,
            400,
            param="file",
            code="invalid_file_format",
            contains=["Line 2", "not valid JSON"],
        )

    def test_pretty_printed_json_is_rejected(self, stack: Stack) -> None:
        data = json.dumps(embedding_lines(1)[0], indent=2).encode()
        error = rejected(new_client(stack), data)
        assert_error(error.response, 400, code="invalid_file_format", contains=["Line 1"])

    @pytest.mark.parametrize(
        ("line", "got"),
        [(b"[1, 2, 3]", "an array"), (b'"text"', "a string"), (b"42", "a number")],
    )
    def test_non_object_line(self, stack: Stack, line: bytes, got: str) -> None:
        data = GOOD_LINE + b"\n" + GOOD_LINE + b"\n" + line + b"\n"
        error = rejected(new_client(stack), data)
        assert_error(
            error.response,
            400,
            code="invalid_file_format",
            contains=["Line 3", "must be a JSON object", got],
        )

    def test_invalid_utf8(self, stack: Stack) -> None:
        data = GOOD_LINE + b'\n{"custom_id": "caf\xe9"}\n'
        error = rejected(new_client(stack), data)
        assert_error(error.response, 400, code="invalid_file_format", contains=["Line 2", "UTF-8"])

    def test_utf8_bom(self, stack: Stack) -> None:
        error = rejected(new_client(stack), b"\xef\xbb\xbf" + GOOD_LINE + b"\n")
        assert_error(error.response, 400, code="invalid_file_format", contains=["Line 1", "BOM"])

    @pytest.mark.parametrize(
        "data",
        [
            GOOD_LINE + b"\r\n" + GOOD_LINE + b"\r\n",
            GOOD_LINE + b"\n" + GOOD_LINE,
            GOOD_LINE + b"\n\n   \n" + GOOD_LINE + b"\n\n",
            ('{"custom_id": "r\u00e9sum\u00e9 \u2713"}\n').encode(),
        ],
        ids=["crlf", "no-trailing-newline", "blank-lines", "non-ascii"],
    )
    def test_accepted_and_returned_byte_identical(self, stack: Stack, data: bytes) -> None:
        client = new_client(stack)
        uploaded = client.files.create(file=("input.jsonl", data), purpose="batch")
        assert uploaded.bytes == len(data)
        assert client.files.content(uploaded.id).content == data


class TestSizeLimits:
    def test_batch_file_over_the_limit_is_413_and_leaves_nothing(self, stack: Stack) -> None:
        key = new_key(stack)
        client = new_client(stack, key)
        before = stored_objects(stack)
        error = rejected(client, jsonl_of_size(MAX_BATCH_FILE_BYTES + 1000))
        assert_error(error.response, 413, contains=[str(MAX_BATCH_FILE_BYTES)])
        assert list(client.files.list()) == []
        assert stored_objects(stack) - before == set()
        assert temp_objects(stack) == []
        # control: the same check does see an accepted upload's bytes
        accepted = client.files.create(file=("ok.jsonl", GOOD_LINE), purpose="batch")
        assert stored_objects(stack) - before == {Path("files", accepted.id)}

    def test_batch_file_at_the_limit_is_accepted(self, stack: Stack) -> None:
        client = new_client(stack)
        data = jsonl_of_size(MAX_BATCH_FILE_BYTES)
        uploaded = client.files.create(file=("input.jsonl", data), purpose="batch")
        assert uploaded.bytes == MAX_BATCH_FILE_BYTES

    def test_other_purposes_have_the_larger_limit(self, stack: Stack) -> None:
        client = new_client(stack)
        data = secrets.token_bytes(MAX_BATCH_FILE_BYTES + 1000)
        uploaded = client.files.create(file=("blob.bin", data), purpose="user_data")
        assert uploaded.bytes == len(data)
        assert client.files.content(uploaded.id).content == data

        before = stored_objects(stack)
        error = rejected(client, secrets.token_bytes(MAX_FILE_BYTES + 1), purpose="user_data")
        assert_error(error.response, 413, contains=[str(MAX_FILE_BYTES)])
        assert [f.id for f in client.files.list()] == [uploaded.id]
        assert stored_objects(stack) - before == set()
        assert temp_objects(stack) == []

    def test_bad_jsonl_leaves_nothing(self, stack: Stack) -> None:
        client = new_client(stack)
        before = stored_objects(stack)
        data = jsonl(embedding_lines(500)) + b"oops\n" + jsonl(embedding_lines(500))
        error = rejected(client, data)
        assert_error(error.response, 400, code="invalid_file_format", contains=["Line 501"])
        assert list(client.files.list()) == []
        assert stored_objects(stack) - before == set()
        assert temp_objects(stack) == []


class TestFormFields:
    def test_missing_purpose(self, stack: Stack) -> None:
        with raw_http(stack, new_key(stack)) as http:
            response = upload_raw(http, GOOD_LINE, purpose=None)
        assert_error(
            response,
            400,
            param="purpose",
            code="missing_required_parameter",
            contains=["purpose"],
        )

    def test_unknown_purpose(self, stack: Stack) -> None:
        with raw_http(stack, new_key(stack)) as http:
            response = upload_raw(http, GOOD_LINE, purpose="batch_output")
        assert_error(response, 400, param="purpose", contains=["'batch_output'"])

    def test_unknown_purpose_via_sdk(self, stack: Stack) -> None:
        error = rejected(new_client(stack), GOOD_LINE, purpose="homework")
        assert isinstance(error, openai.BadRequestError)
        assert error.param == "purpose"

    def test_file_under_another_name(self, stack: Stack) -> None:
        with raw_http(stack, new_key(stack)) as http:
            response = http.post(
                "files", data={"purpose": "batch"}, files={"attachment": ("x.jsonl", GOOD_LINE)}
            )
        assert_error(response, 400, param="attachment", contains=["'attachment'", "'file'"])

    def test_missing_file_part(self, stack: Stack) -> None:
        with raw_http(stack, new_key(stack)) as http:
            # a multipart body without any file part (httpx needs files= to send multipart)
            response = http.post(
                "files",
                content=b'--b\r\nContent-Disposition: form-data; name="purpose"\r\n\r\n'
                b"batch\r\n--b--\r\n",
                headers={"content-type": "multipart/form-data; boundary=b"},
            )
        assert_error(
            response, 400, param="file", code="missing_required_parameter", contains=["'file'"]
        )

    def test_json_body(self, stack: Stack) -> None:
        with raw_http(stack, new_key(stack)) as http:
            response = http.post("files", json={"purpose": "batch", "file": "abc"})
        assert_error(response, 400, contains=["multipart/form-data"])

    def test_plain_text_body(self, stack: Stack) -> None:
        with raw_http(stack, new_key(stack)) as http:
            response = http.post("files", content=GOOD_LINE, headers={"content-type": "text/plain"})
        assert_error(response, 400, contains=["multipart/form-data"])

    def test_truncated_multipart_body(self, stack: Stack) -> None:
        with raw_http(stack, new_key(stack)) as http:
            response = http.post(
                "files",
                content=b'--b\r\nContent-Disposition: form-data; name="file"; filename="x"\r\n'
                b"\r\n" + GOOD_LINE,
                headers={"content-type": "multipart/form-data; boundary=b"},
            )
        assert_error(response, 400)
        assert list(new_client(stack).files.list()) == []


class TestExpiresAfter:
    @pytest.mark.parametrize(
        ("anchor", "seconds", "param"),
        [
            ("last_active_at", "3600", "anchor"),
            ("created_at", "3599", "seconds"),
            ("created_at", "2592001", "seconds"),
            ("created_at", "0", "seconds"),
            ("created_at", "soon", "seconds"),
        ],
    )
    def test_rejected(self, stack: Stack, anchor: str, seconds: str, param: str) -> None:
        key = new_key(stack)
        fields = {"expires_after[anchor]": anchor, "expires_after[seconds]": seconds}
        with raw_http(stack, key) as http:
            response = upload_raw(http, GOOD_LINE, fields=fields)
        error = assert_error(response, 400, contains=[f"expires_after[{param}]"])
        assert error["param"] in (f"expires_after.{param}", f"expires_after[{param}]")
        assert list(new_client(stack, key).files.list()) == []

    def test_rejected_via_sdk(self, stack: Stack) -> None:
        client = new_client(stack)
        with pytest.raises(openai.BadRequestError) as caught:
            client.files.create(
                file=("input.jsonl", GOOD_LINE),
                purpose="batch",
                expires_after={"anchor": "created_at", "seconds": 60},
            )
        assert "3600" in caught.value.body["message"]  # type: ignore[index]

    @pytest.mark.parametrize("seconds", [3600, 2592000])
    def test_bounds_are_inclusive(self, stack: Stack, seconds: int) -> None:
        uploaded = new_client(stack).files.create(
            file=("input.jsonl", GOOD_LINE),
            purpose="batch",
            expires_after={"anchor": "created_at", "seconds": seconds},
        )
        assert uploaded.expires_at == uploaded.created_at + seconds
