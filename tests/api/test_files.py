"""`/v1/files` through the official `openai` SDK (sync and async), plus the raw list JSON."""

from __future__ import annotations

import time
from pathlib import Path

import openai
import pytest
from openai.types import FilePurpose

from support.api import embedding_lines, jsonl, new_async_client, new_client, new_key, raw_http
from support.stacks import Stack

DAY = 86400
BATCH_LINES = jsonl(embedding_lines(3))
FILE_KEYS = {
    "id",
    "object",
    "bytes",
    "created_at",
    "expires_at",
    "filename",
    "purpose",
    "status",
    "status_details",
}


class TestUpload:
    def test_bytes_tuple_gives_a_processed_batch_file(self, stack: Stack) -> None:
        client = new_client(stack)
        before = int(time.time())
        uploaded = client.files.create(file=("x.jsonl", BATCH_LINES), purpose="batch")
        assert uploaded.id.startswith("file-")
        assert uploaded.object == "file"
        assert uploaded.bytes == len(BATCH_LINES)
        assert uploaded.filename == "x.jsonl"
        assert uploaded.purpose == "batch"
        assert uploaded.status == "processed"
        assert uploaded.status_details is None
        assert before - 1 <= uploaded.created_at <= int(time.time()) + 1
        # batch inputs expire after 30 days unless told otherwise
        assert uploaded.expires_at == uploaded.created_at + 30 * DAY
        assert uploaded._request_id is not None
        assert uploaded._request_id.startswith("req_")

    def test_path_upload_uses_the_basename(self, stack: Stack, tmp_path: Path) -> None:
        client = new_client(stack)
        path = tmp_path / "requests-2024.jsonl"
        path.write_bytes(BATCH_LINES)
        uploaded = client.files.create(file=path, purpose="batch")
        assert uploaded.filename == "requests-2024.jsonl"
        assert uploaded.bytes == len(BATCH_LINES)
        assert client.files.content(uploaded.id).content == BATCH_LINES

    def test_expires_after_sets_expires_at(self, stack: Stack) -> None:
        client = new_client(stack)
        uploaded = client.files.create(
            file=("x.jsonl", BATCH_LINES),
            purpose="batch",
            expires_after={"anchor": "created_at", "seconds": 3600},
        )
        assert uploaded.expires_at == uploaded.created_at + 3600
        assert client.files.retrieve(uploaded.id).expires_at == uploaded.created_at + 3600

    def test_user_data_never_expires_and_is_not_jsonl_checked(self, stack: Stack) -> None:
        client = new_client(stack)
        data = b"not json at all\n[1, 2]\n\xff\xfe"
        uploaded = client.files.create(file=("notes.bin", data), purpose="user_data")
        assert uploaded.purpose == "user_data"
        assert uploaded.expires_at is None
        assert uploaded.bytes == len(data)
        assert uploaded.status == "processed"

    def test_user_data_honours_expires_after(self, stack: Stack) -> None:
        client = new_client(stack)
        uploaded = client.files.create(
            file=("notes.txt", b"hello"),
            purpose="user_data",
            expires_after={"anchor": "created_at", "seconds": 2592000},
        )
        assert uploaded.expires_at == uploaded.created_at + 2592000

    def test_raw_json_has_every_field(self, stack: Stack) -> None:
        key = new_key(stack)
        with raw_http(stack, key) as http:
            response = http.post(
                "files", data={"purpose": "batch"}, files={"file": ("x.jsonl", BATCH_LINES)}
            )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        assert set(body) == FILE_KEYS
        assert body["object"] == "file"
        assert body["status"] == "processed"
        assert body["status_details"] is None


class TestRetrieve:
    def test_retrieve_matches_the_upload(self, stack: Stack) -> None:
        client = new_client(stack)
        uploaded = client.files.create(file=("x.jsonl", BATCH_LINES), purpose="batch")
        assert client.files.retrieve(uploaded.id).model_dump() == uploaded.model_dump()

    def test_wait_for_processing_returns_at_once(self, stack: Stack) -> None:
        client = new_client(stack)
        uploaded = client.files.create(file=("x.jsonl", BATCH_LINES), purpose="batch")
        started = time.monotonic()
        # poll_interval=5: a file that is not yet "processed" would cost at least 5 s here
        done = client.files.wait_for_processing(uploaded.id, poll_interval=5, max_wait_seconds=10)
        assert time.monotonic() - started < 2
        assert done.status == "processed"
        assert done.id == uploaded.id


class TestContent:
    def test_batch_file_content_is_byte_identical(self, stack: Stack) -> None:
        client = new_client(stack)
        uploaded = client.files.create(file=("x.jsonl", BATCH_LINES), purpose="batch")
        assert client.files.content(uploaded.id).content == BATCH_LINES

    def test_binary_content_is_byte_identical(self, stack: Stack) -> None:
        client = new_client(stack)
        data = bytes(range(256)) * 64 + b"\r\n\x00--boundary\r\n"
        uploaded = client.files.create(file=("blob.bin", data), purpose="user_data")
        assert uploaded.bytes == len(data)
        assert client.files.content(uploaded.id).content == data

    def test_content_response_headers(self, stack: Stack) -> None:
        key = new_key(stack)
        uploaded = new_client(stack, key).files.create(
            file=("x.jsonl", BATCH_LINES), purpose="batch"
        )
        with raw_http(stack, key) as http:
            response = http.get(f"files/{uploaded.id}/content")
        assert response.status_code == 200
        assert response.content == BATCH_LINES
        assert response.headers["content-length"] == str(len(BATCH_LINES))
        assert response.headers["content-type"] == "application/octet-stream"


class TestDelete:
    def test_delete_then_everything_is_gone(self, stack: Stack) -> None:
        client = new_client(stack)
        kept = client.files.create(file=("keep.jsonl", BATCH_LINES), purpose="batch")
        doomed = client.files.create(file=("doomed.jsonl", BATCH_LINES), purpose="batch")

        deleted = client.files.delete(doomed.id)
        assert (deleted.id, deleted.object, deleted.deleted) == (doomed.id, "file", True)

        with pytest.raises(openai.NotFoundError) as retrieved:
            client.files.retrieve(doomed.id)
        assert retrieved.value.status_code == 404
        assert doomed.id in retrieved.value.message
        with pytest.raises(openai.NotFoundError):
            client.files.content(doomed.id)
        with pytest.raises(openai.NotFoundError):
            client.files.delete(doomed.id)
        assert [f.id for f in client.files.list()] == [kept.id]
        assert client.files.content(kept.id).content == BATCH_LINES


class TestList:
    def _upload(
        self, client: openai.OpenAI, count: int, purpose: FilePurpose = "batch"
    ) -> list[str]:
        data = BATCH_LINES if purpose == "batch" else b"data"
        return [
            client.files.create(file=(f"f{i}.jsonl", data), purpose=purpose).id
            for i in range(count)
        ]

    def test_default_order_is_newest_first(self, stack: Stack) -> None:
        client = new_client(stack)
        ids = self._upload(client, 3)
        page = client.files.list()
        assert [f.id for f in page.data] == ids[::-1]
        assert page.has_more is False

    def test_order_asc(self, stack: Stack) -> None:
        client = new_client(stack)
        ids = self._upload(client, 3)
        assert [f.id for f in client.files.list(order="asc")] == ids
        assert [f.id for f in client.files.list(order="desc")] == ids[::-1]

    def test_purpose_filter(self, stack: Stack) -> None:
        client = new_client(stack)
        batch_ids = self._upload(client, 2)
        user_ids = self._upload(client, 2, purpose="user_data")
        assert [f.id for f in client.files.list(purpose="user_data")] == user_ids[::-1]
        assert [f.id for f in client.files.list(purpose="batch")] == batch_ids[::-1]
        assert list(client.files.list(purpose="fine-tune")) == []

    def test_auto_pagination_yields_every_file_once_in_order(self, stack: Stack) -> None:
        client = new_client(stack)
        ids = self._upload(client, 7)
        assert [f.id for f in client.files.list(limit=2)] == ids[::-1]
        assert [f.id for f in client.files.list(limit=2, order="asc")] == ids

        pages = list(client.files.list(limit=2).iter_pages())
        assert [len(p.data) for p in pages] == [2, 2, 2, 1]
        assert [p.has_more for p in pages] == [True, True, True, False]

    def test_pagination_keeps_the_purpose_filter(self, stack: Stack) -> None:
        client = new_client(stack)
        batch_ids = []
        for _ in range(3):
            batch_ids += self._upload(client, 1)
            self._upload(client, 1, purpose="user_data")
        assert [f.id for f in client.files.list(limit=1, purpose="batch")] == batch_ids[::-1]

    def test_raw_list_json(self, stack: Stack) -> None:
        key = new_key(stack)
        ids = self._upload(new_client(stack, key), 7)[::-1]  # newest first
        with raw_http(stack, key) as http:
            first = http.get("files", params={"limit": 2}).json()
            last = http.get("files", params={"limit": 2, "after": ids[5]}).json()
            exact = http.get("files", params={"limit": 7}).json()
            one_short = http.get("files", params={"limit": 6}).json()

        assert set(first) == {"object", "data", "first_id", "last_id", "has_more"}
        assert first["object"] == "list"
        assert [f["id"] for f in first["data"]] == ids[:2]
        assert (first["first_id"], first["last_id"], first["has_more"]) == (ids[0], ids[1], True)
        assert [f["id"] for f in last["data"]] == ids[6:]
        assert (last["first_id"], last["last_id"], last["has_more"]) == (ids[6], ids[6], False)
        assert len(exact["data"]) == 7
        assert exact["has_more"] is False
        assert len(one_short["data"]) == 6
        assert one_short["has_more"] is True

    def test_empty_list(self, stack: Stack) -> None:
        with raw_http(stack, new_key(stack)) as http:
            body = http.get("files").json()
        assert body == {
            "object": "list",
            "data": [],
            "first_id": None,
            "last_id": None,
            "has_more": False,
        }


class TestAsyncClient:
    async def test_upload_list_retrieve_content(self, stack: Stack) -> None:
        async with new_async_client(stack) as client:
            ids = [
                (await client.files.create(file=(f"a{i}.jsonl", BATCH_LINES), purpose="batch")).id
                for i in range(3)
            ]
            listed = [f.id async for f in client.files.list(limit=2)]
            assert listed == ids[::-1]
            retrieved = await client.files.retrieve(ids[0])
            assert (retrieved.id, retrieved.filename, retrieved.bytes) == (
                ids[0],
                "a0.jsonl",
                len(BATCH_LINES),
            )
            assert (await client.files.content(ids[1])).content == BATCH_LINES
            deleted = await client.files.delete(ids[2])
            assert deleted.deleted is True
            assert [f.id async for f in client.files.list()] == ids[1::-1]
