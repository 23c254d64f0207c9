"""Tests for the streaming multipart/form-data reader behind `POST /v1/files`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from batchgate.errors import InvalidRequest, PayloadTooLarge
from batchgate.files.multipart import MultipartResult, read_multipart

SDK_FIELDS = {
    "purpose": "batch",
    "expires_after[anchor]": "created_at",
    "expires_after[seconds]": "3600",
}
BOUNDARY = "b0undary"
CT = f"multipart/form-data; boundary={BOUNDARY}"


def file_data(size: int) -> bytes:
    # Bytes that look like the start of a delimiter stress the parser's partial-boundary
    # look-behind across chunk edges; the rest is realistic JSONL.
    unit = b'{"custom_id": "r", "body": {"x": "\r\n--\r\n-"}}\n\r\n--' + BOUNDARY[:5].encode()
    return (unit * (size // len(unit) + 1))[:size]


def sdk_request(data: bytes, filename: str = "x.jsonl") -> tuple[bytes, str]:
    """The body and Content-Type exactly as httpx builds them for the openai SDK."""
    request = httpx.Request(
        "POST",
        "http://test/v1/files",
        files={"file": (filename, data, "application/jsonl")},
        data=SDK_FIELDS,
    )
    return request.read(), request.headers["content-type"]


def part(name: str, value: bytes, extra: str = "") -> bytes:
    disposition = f'Content-Disposition: form-data; name="{name}"{extra}'
    return f"--{BOUNDARY}\r\n{disposition}\r\n\r\n".encode() + value + b"\r\n"


def body(*parts: bytes) -> bytes:
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def file_part(data: bytes = b"{}\n", name: str = "file", filename: str = "in.jsonl") -> bytes:
    return part(name, data, f'; filename="{filename}"\r\nContent-Type: application/jsonl')


class Recorder:
    """A sink that records every call, plus how much of the stream had been read at each."""

    def __init__(self) -> None:
        self.read = 0  # bytes pulled from the stream so far
        self.chunks_read = 0
        self.starts: list[tuple[dict[str, str], str]] = []
        self.chunks: list[bytes] = []
        self.events: list[str] = []
        self.max_lag = 0  # most stream bytes read but not yet passed to the sink

    async def stream(self, data: bytes, size: int) -> AsyncIterator[bytes]:
        for start in range(0, len(data), size):
            chunk = data[start : start + size]
            self.read += len(chunk)
            self.chunks_read += 1
            yield chunk

    async def on_file_start(self, fields: dict[str, str], filename: str) -> None:
        self.starts.append((fields, filename))
        self.events.append("start")

    async def on_file_chunk(self, chunk: bytes) -> None:
        self.chunks.append(chunk)
        self.events.append("chunk")
        self.max_lag = max(self.max_lag, self.read - sum(map(len, self.chunks)))

    async def run(
        self, data: bytes, content_type: str | None = CT, size: int = 65536, **limits: int
    ) -> MultipartResult:
        return await read_multipart(
            self.stream(data, size),
            content_type,
            on_file_start=self.on_file_start,
            on_file_chunk=self.on_file_chunk,
            max_file_bytes=limits.pop("max_file_bytes", 10 << 20),
            **limits,
        )


async def invalid(data: bytes, content_type: str | None = CT, **limits: int) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as info:
        await Recorder().run(data, content_type, **limits)
    assert type(info.value) is InvalidRequest
    assert info.value.status_code == 400
    return info.value


# --- the happy path --------------------------------------------------------------------------


@pytest.mark.parametrize(("size", "length"), [(1, 3000), (7, 20_000), (65536, 1_500_000)])
async def test_sdk_shaped_body_in_awkward_chunks(size: int, length: int) -> None:
    data = file_data(length)
    raw, content_type = sdk_request(data)
    rec = Recorder()
    result = await rec.run(raw, content_type, size=size)
    assert result == MultipartResult(fields=SDK_FIELDS, filename="x.jsonl", file_bytes=length)
    assert b"".join(rec.chunks) == data
    assert rec.starts == [(SDK_FIELDS, "x.jsonl")]  # once, purpose already known
    assert rec.events[0] == "start"
    # Coalesced: every sink write but the last is at least 256 KiB, and never more than
    # ~256 KiB + one network chunk sits between the socket and the sink.
    assert all(len(chunk) >= 256 * 1024 for chunk in rec.chunks[:-1])
    assert rec.max_lag <= 256 * 1024 + size


async def test_file_before_fields() -> None:
    rec = Recorder()
    raw = body(part("purpose", b"fine-tune"), file_part(b"abc"), part("extra", b"x"))
    result = await rec.run(raw, size=3)
    assert rec.starts == [({"purpose": "fine-tune"}, "in.jsonl")]
    rec = Recorder()
    result = await rec.run(body(file_part(b"abc"), part("purpose", b"batch")), size=3)
    assert rec.starts == [({}, "in.jsonl")]
    assert result.fields == {"purpose": "batch"}
    assert b"".join(rec.chunks) == b"abc"


async def test_empty_file_part_and_empty_field() -> None:
    rec = Recorder()
    result = await rec.run(body(part("purpose", b""), file_part(b"")))
    assert result == MultipartResult(fields={"purpose": ""}, filename="in.jsonl", file_bytes=0)
    assert rec.starts == [({"purpose": ""}, "in.jsonl")]
    assert rec.chunks == []


@pytest.mark.parametrize(
    "content_type",
    [
        f'multipart/form-data; boundary="{BOUNDARY}"',
        f"Multipart/Form-Data;boundary={BOUNDARY}; charset=utf-8",
    ],
)
async def test_content_type_variants(content_type: str) -> None:
    result = await Recorder().run(body(file_part()), content_type)
    assert result.file_bytes == 3


async def test_epilogue_is_not_read() -> None:
    rec = Recorder()
    raw = body(file_part()) + b"epilogue" * 100
    await rec.run(raw, size=len(body(file_part())))
    assert rec.chunks_read == 1


# --- filenames ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("a/b/c.jsonl", "c.jsonl"),
        ("C:\\Users\\me\\batch.jsonl", "batch.jsonl"),
        ("..\\../x.jsonl", "x.jsonl"),
        ("données ✓.jsonl", "données ✓.jsonl"),
        ("dir/", "upload"),
        ("n" * 300 + ".jsonl", "n" * 255),
    ],
)
async def test_filename_via_httpx(given: str, expected: str) -> None:
    raw, content_type = sdk_request(b"{}\n", given)
    rec = Recorder()
    result = await rec.run(raw, content_type)
    assert result.filename == expected
    assert rec.starts[0][1] == expected


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("", "upload"),  # a `file` part without a filename
        ("; filename*=UTF-8''na%C3%AFve%20batch.jsonl", "naïve batch.jsonl"),
        ("; filename=\"plain.jsonl\"; filename*=UTF-8''fancy%E2%9C%93.jsonl", "fancy✓.jsonl"),
        ("; filename=\"plain.jsonl\"; filename*=bogus''x.jsonl", "plain.jsonl"),
        ("; filename=\"plain.jsonl\"; filename*=UTF-8''bad%FF.jsonl", "plain.jsonl"),
        ("; filename*=iso-8859-1'fr'caf%E9.jsonl", "café.jsonl"),
        ('; filename="a\x01b\x7f.jsonl"', "ab.jsonl"),
    ],
)
async def test_filename_from_raw_headers(extra: str, expected: str) -> None:
    result = await Recorder().run(body(part("file", b"{}", extra)))
    assert result.filename == expected


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", [None, "", "application/json", "text/plain; boundary=x", "multipart/mixed"]
)
async def test_not_multipart(content_type: str | None) -> None:
    err = await invalid(body(file_part()), content_type)
    assert err.message == "Expected a multipart/form-data body with a 'file' part"
    assert err.param == "file"


@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data", "multipart/form-data; boundary=", "multipart/form-data;"],
)
async def test_missing_boundary(content_type: str) -> None:
    err = await invalid(body(file_part()), content_type)
    assert "no boundary" in err.message
    assert err.param == "file"


async def test_overlong_boundary() -> None:
    err = await invalid(b"", "multipart/form-data; boundary=" + "x" * 300)
    assert "boundary" in err.message


@pytest.mark.parametrize(
    "raw",
    [
        b"hello world",
        b"--other\r\n",
        f"--{BOUNDARY}\r\nContent-Disposition form-data\r\n\r\n".encode(),  # no colon
    ],
)
async def test_malformed_body(raw: bytes) -> None:
    err = await invalid(raw + b"\r\n\r\n" + body(file_part()))
    assert err.message.startswith("Malformed multipart/form-data body:")
    assert err.param == "file"


@pytest.mark.parametrize("cut", [1, 2])
async def test_final_crlf_after_closing_boundary_is_optional(cut: int) -> None:
    raw = body(file_part(b"x" * 30))
    assert (await Recorder().run(raw[:-cut])).file_bytes == 30


@pytest.mark.parametrize("cut", [3, 4, 20, 40])
async def test_truncated_body(cut: int) -> None:
    raw = body(part("purpose", b"batch"), file_part(b"x" * 30))
    err = await invalid(raw[:-cut])
    assert err.message == "The multipart/form-data body ended before its closing boundary."
    assert err.param == "file"


async def test_empty_body() -> None:
    err = await invalid(b"")
    assert "ended before its closing boundary" in err.message


@pytest.mark.parametrize(
    "raw",
    [
        body(part("purpose", b"batch")),
        f"--{BOUNDARY}--\r\n".encode(),
    ],
)
async def test_missing_file_part(raw: bytes) -> None:
    err = await invalid(raw)
    assert err.message == "Missing required parameter: 'file'."
    assert err.param == "file"


async def test_second_file_part() -> None:
    err = await invalid(body(file_part(), part("purpose", b"batch"), file_part()))
    assert err.message == "Only one 'file' part is allowed."
    assert err.param == "file"


async def test_file_under_another_name() -> None:
    err = await invalid(body(file_part(name="document"), file_part()))
    assert "'document'" in err.message
    assert err.param == "document"


async def test_too_many_fields() -> None:
    fields = [part(f"f{i}", b"v") for i in range(3)]
    assert (await Recorder().run(body(*fields, file_part()), max_fields=3)).fields["f2"] == "v"
    err = await invalid(body(*fields, file_part()), max_fields=2)
    assert "at most 2" in err.message
    assert err.param == "f2"


async def test_field_too_large() -> None:
    ok = await Recorder().run(body(part("purpose", b"x" * 10), file_part()), max_field_bytes=10)
    assert ok.fields["purpose"] == "x" * 10
    err = await invalid(body(part("purpose", b"x" * 11), file_part()), max_field_bytes=10)
    assert err.message == "Parameter 'purpose' exceeds 10 bytes."
    assert err.param == "purpose"


async def test_field_not_utf8() -> None:
    err = await invalid(body(part("purpose", b"b\xffatch"), file_part()))
    assert err.message == "Parameter 'purpose' is not valid UTF-8."
    assert err.param == "purpose"


async def test_duplicate_field() -> None:
    err = await invalid(body(part("purpose", b"batch"), part("purpose", b"x"), file_part()))
    assert err.param == "purpose"
    assert "Duplicate" in err.message


@pytest.mark.parametrize(
    "headers",
    [
        b"Content-Type: text/plain",  # no Content-Disposition
        b"Content-Disposition: form-data",  # no name
        b'Content-Disposition: attachment; name="purpose"',
    ],
)
async def test_part_without_form_data_name(headers: bytes) -> None:
    raw = f"--{BOUNDARY}\r\n".encode() + headers + b"\r\n\r\nbatch\r\n"
    err = await invalid(body(raw, file_part()))
    assert "Content-Disposition" in err.message
    assert err.param == "file"


async def test_file_too_large_stops_reading_early() -> None:
    raw, content_type = sdk_request(file_data(1 << 20))
    rec = Recorder()
    with pytest.raises(PayloadTooLarge) as info:
        await rec.run(raw, content_type, size=4096, max_file_bytes=10_000)
    assert info.value.message == "File exceeds the maximum upload size of 10000 bytes."
    assert info.value.status_code == 413
    assert rec.read <= 10_000 + 2 * 4096  # fields + the chunk that crossed the limit
    assert sum(map(len, rec.chunks)) <= 10_000


async def test_file_of_exactly_max_bytes_is_accepted() -> None:
    raw, content_type = sdk_request(file_data(10_000))
    result = await Recorder().run(raw, content_type, size=999, max_file_bytes=10_000)
    assert result.file_bytes == 10_000


async def test_sink_errors_propagate_and_stop_reading() -> None:
    class Refuse(Recorder):
        async def on_file_start(self, fields: dict[str, str], filename: str) -> None:
            raise InvalidRequest("no", param="purpose")

    rec = Refuse()
    raw, content_type = sdk_request(file_data(100_000))
    with pytest.raises(InvalidRequest, match="no"):
        await rec.run(raw, content_type, size=1024)
    assert rec.read < 4096
