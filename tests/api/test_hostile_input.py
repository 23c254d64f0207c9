"""Input that a database cannot store, or that would hold it: a 4xx or a line error, never a
500, never a stuck batch, never a blocked server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import httpx

from support.batches import chat_line, jsonl, wait_for
from support.stacks import Stack


def test_nul_in_path_and_query_is_a_400(stack: Stack) -> None:
    key = stack.new_key()
    with httpx.Client(headers={"Authorization": f"Bearer {key}"}) as http:
        for url in ("/batches/a%00b", "/files/a%00b", "/batches?after=a%00b"):
            response = http.get(stack.base_url + url)
            assert response.status_code == 400, (url, response.text)
            assert "NUL" in response.json()["error"]["message"]


def test_nul_in_a_json_field_is_a_400(stack: Stack) -> None:
    key = stack.new_key()
    response = httpx.post(
        stack.base_url + "/batches",
        headers={"Authorization": f"Bearer {key}"},
        json={
            "input_file_id": "file-\u0000",
            "endpoint": "/v1/chat/completions",
            "completion_window": "24h",
        },
    )
    assert 400 <= response.status_code < 500, response.text
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_unstorable_line_values_fail_validation_with_their_line(stack: Stack) -> None:
    client = stack.client()
    for line, code in (
        (chat_line("a\u0000b"), "invalid_custom_id"),
        (chat_line("long-model", model="m" * 300), "invalid_model"),
        (chat_line("x" * 600), "invalid_custom_id"),
    ):
        uploaded = client.files.create(
            file=("in.jsonl", jsonl([chat_line("ok"), line])), purpose="batch"
        )
        created = client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        batch = wait_for(client, created.id, timeout=30)
        assert batch.status == "failed", batch
        assert batch.errors is not None
        assert batch.errors.data is not None
        error = batch.errors.data[0]
        assert (error.code, error.line) == (code, 2)
        assert len(error.message or "") < 300


def test_a_slow_upload_does_not_hold_up_other_requests(stack: Stack) -> None:
    key = stack.new_key()
    headers = {"Authorization": f"Bearer {key}"}
    boundary = "slowboundary"

    def body() -> Iterator[bytes]:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="slow.jsonl"'
            "\r\n"
            "Content-Type: application/jsonl\r\n\r\n"
        ).encode()
        for i in range(6):
            yield (json.dumps(chat_line(f"slow-{i}")) + "\n").encode()
            time.sleep(0.5)
        yield f"\r\n--{boundary}--\r\n".encode()

    result: dict[str, httpx.Response] = {}

    def upload() -> None:
        result["upload"] = httpx.post(
            stack.base_url + "/files",
            headers={**headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
            content=body(),
            timeout=30,
        )

    uploader = threading.Thread(target=upload)
    uploader.start()
    time.sleep(0.7)  # the upload is streaming now
    started = time.monotonic()
    listed = httpx.get(stack.base_url + "/batches", headers=headers, timeout=30)
    elapsed = time.monotonic() - started
    uploader.join()
    assert listed.status_code == 200
    assert elapsed < 1.5, f"a GET waited {elapsed:.1f}s behind a streaming upload"
    assert result["upload"].status_code == 200, result["upload"].text
