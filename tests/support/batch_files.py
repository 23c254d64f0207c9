"""Raw batch input files (blank lines, malformed lines) and checks on output/error files.

Shared by tests/engine/test_validation.py, test_cancel_and_expiry.py and test_routing.py.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

from openai import OpenAI
from openai.types import Batch, FileObject

from batchgate.kit.ids import batch_request_id
from support.batches import chat_line

#: `None` is a blank line, a `str` goes in as-is, anything else is JSON-encoded
Item = dict[str, Any] | str | None

BATCH_REQ_ID = re.compile(r"^batch_req_[0-9a-f]{32}$")
DEFAULT_OUTPUT_TTL = 30 * 86400
NOT_RUN = ("batch_cancelled", "batch_expired")


def raw_file(items: list[Item]) -> bytes:
    out = []
    for item in items:
        if item is None:
            out.append("")
        elif isinstance(item, str):
            out.append(item)
        else:
            out.append(json.dumps(item))
    return ("\n".join(out) + "\n").encode()


def upload(client: OpenAI, items: list[Item]) -> FileObject:
    return client.files.create(file=("input.jsonl", raw_file(items)), purpose="batch")


def create(
    client: OpenAI,
    items: list[Item],
    window: str = "24h",
    endpoint: str = "/v1/chat/completions",
    **extra: Any,
) -> Batch:
    uploaded = upload(client, items)
    return client.batches.create(
        input_file_id=uploaded.id, endpoint=endpoint, completion_window=window, **extra
    )


def line_numbers(items: list[Item]) -> dict[str, int]:
    """custom_id -> physical (1-based) line number, for the well-formed lines of a file."""
    return {
        item["custom_id"]: number
        for number, item in enumerate(items, start=1)
        if isinstance(item, dict) and isinstance(item.get("custom_id"), str)
    }


def line_states(database_url: str, batch_id: str) -> dict[str, int]:
    """How many of a batch's line rows are in each state, read straight from the database."""
    sql = "SELECT state, count(*) FROM batch_requests WHERE batch_id = {} GROUP BY state"
    if database_url.startswith("sqlite"):
        path = database_url.split(":///", 1)[1]
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
            return dict(connection.execute(sql.format("?"), (batch_id,)).fetchall())

    async def query() -> dict[str, int]:
        import asyncpg

        connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
        try:
            return {row[0]: row[1] for row in await connection.fetch(sql.format("$1"), batch_id)}
        finally:
            await connection.close()

    return asyncio.run(query())


def lines_of(n: int, prefix: str, fault: dict[str, Any] | None = None) -> list[Item]:
    return [chat_line(f"{prefix}-{i}", fault) for i in range(n)]


@dataclass
class Checked:
    output: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    output_file: FileObject | None = None
    error_file: FileObject | None = None

    @property
    def all(self) -> list[dict[str, Any]]:
        return self.output + self.errors

    def not_run(self, code: str) -> list[dict[str, Any]]:
        return [x for x in self.errors if x["error"] and x["error"]["code"] == code]


def _download(client: OpenAI, batch: Batch, file_id: str, ttl: int) -> tuple[FileObject, bytes]:
    meta = client.files.retrieve(file_id)
    assert meta.purpose == "batch_output", meta
    assert meta.status == "processed", meta
    assert meta.expires_at == meta.created_at + ttl, meta
    assert meta.created_at >= batch.created_at
    first = client.files.content(file_id).content
    # a second download is the same bytes (files are written once, at finalization)
    assert client.files.content(file_id).content == first
    assert meta.bytes == len(first)
    assert first.endswith(b"\n")
    return meta, first


def check_result_files(
    client: OpenAI, batch: Batch, numbers: dict[str, int], ttl: int = DEFAULT_OUTPUT_TTL
) -> Checked:
    """Every output/error line is well formed, its `id` is the stable `batch_req_` id of its
    input line, each custom_id appears at most once, and the counts match the files."""
    got = Checked()
    if batch.output_file_id:
        got.output_file, data = _download(client, batch, batch.output_file_id, ttl)
        got.output = [json.loads(x) for x in data.splitlines()]
    if batch.error_file_id:
        got.error_file, data = _download(client, batch, batch.error_file_id, ttl)
        got.errors = [json.loads(x) for x in data.splitlines()]
    assert not (got.output_file and got.error_file and got.output_file.id == got.error_file.id)
    for line in got.all:
        assert set(line) == {"id", "custom_id", "response", "error"}, line
        assert BATCH_REQ_ID.match(line["id"]), line["id"]
        assert line["custom_id"] in numbers, line
        assert line["id"] == batch_request_id(batch.id, numbers[line["custom_id"]])
    for line in got.output:
        assert line["error"] is None, line
        assert 200 <= line["response"]["status_code"] < 300, line
        assert isinstance(line["response"]["request_id"], str)
        assert line["response"]["request_id"]
        assert isinstance(line["response"]["body"], dict)
    for line in got.errors:
        assert line["error"] is not None, line
        assert set(line["error"]) == {"code", "message"}, line
        if line["error"]["code"] in NOT_RUN:
            assert line["response"] is None, line
        elif line["response"] is not None:
            assert line["response"]["status_code"] >= 400, line
    ids = [line["custom_id"] for line in got.all]
    assert len(ids) == len(set(ids)), "a custom_id appears more than once"
    # lines are written in input order, in each file
    for lines in (got.output, got.errors):
        order = [numbers[line["custom_id"]] for line in lines]
        assert order == sorted(order)
    counts = batch.request_counts
    assert counts is not None
    assert counts.completed == len(got.output)
    not_run = sum(1 for x in got.errors if x["error"]["code"] in NOT_RUN)
    assert counts.failed == len(got.errors) - not_run
    return got
