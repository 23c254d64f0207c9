"""Streaming multipart/form-data reader for `POST /v1/files`, in bounded memory.

Starlette's `request.form()` buffers the whole body before returning, which a 200 MB upload must
never do. Here python-multipart's callback parser is fed one network chunk at a time; text
fields are collected (each capped), and the `file` part is handed to an async sink as it
arrives. The parser's callbacks are synchronous, so they only record what happened; the
awaiting (sink writes, `on_file_start`) happens between `parser.write` calls. That keeps
backpressure: the next chunk is not read until the sink has taken the previous one.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote

from python_multipart import MultipartParser
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header

from batchgate.errors import InvalidRequest, PayloadTooLarge

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

__all__ = ["FILE_FIELD", "MultipartResult", "read_multipart"]

FILE_FIELD = "file"
_DEFAULT_FILENAME = "upload"
_MAX_FILENAME_CHARS = 255
# The parser emits many small slices (one per header, one per partial-boundary lookbehind);
# handing the sink ~256 KiB at a time keeps storage writes and per-call overhead sane.
_FLUSH_BYTES = 256 * 1024
# RFC 7578 forbids `filename*`, so python-multipart ignores it, but some clients send it.
_EXT_FILENAME = re.compile(r";\s*filename\*\s*=\s*\"?([^\";]*)", re.IGNORECASE)
_DIRS = re.compile(r"^.*[/\\]", re.DOTALL)
# Control characters (NUL in particular, which PostgreSQL text rejects) are never meaningful.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass
class MultipartResult:
    """What a multipart upload contained besides the file bytes themselves."""

    fields: dict[str, str]
    filename: str | None
    file_bytes: int


def _bad(message: str, param: str | None = FILE_FIELD, code: str | None = None) -> InvalidRequest:
    return InvalidRequest(message, param=param, code=code)


def _boundary(content_type: str | None) -> bytes:
    ctype, options = parse_options_header(content_type)
    if ctype != b"multipart/form-data":
        raise _bad("Expected a multipart/form-data body with a 'file' part")
    boundary = options.get(b"boundary")
    if not boundary:
        raise _bad("The multipart/form-data Content-Type header has no boundary parameter.")
    return boundary


def _extended_filename(header: str) -> str | None:
    match = _EXT_FILENAME.search(header)
    if match is None:
        return None
    charset, _, rest = match.group(1).strip().partition("'")
    _language, quote, encoded = rest.partition("'")
    # RFC 8187 charsets; anything else (or bad bytes) falls back to the plain `filename`.
    if not quote or charset.lower() not in ("utf-8", "iso-8859-1"):
        return None
    try:
        return unquote(encoded, encoding=charset, errors="strict")
    except UnicodeDecodeError:
        return None


def _clean_filename(raw: str | None) -> str:
    """Display-only name: last path component, no control characters, at most 255 chars."""
    name = _CONTROL.sub("", _DIRS.sub("", raw or ""))[:_MAX_FILENAME_CHARS]
    return name or _DEFAULT_FILENAME


def _disposition(header: bytes | None) -> tuple[str, str | None]:
    """(field name, raw filename or None) from a part's Content-Disposition header."""
    if header is None:
        raise _bad("A multipart part has no Content-Disposition header.")
    # Header bytes are kept as latin-1 so that parse_options_header round-trips them exactly;
    # names and filenames are UTF-8 in practice (browsers, httpx, curl), decoded afterwards.
    text = header.decode("latin-1")
    kind, options = parse_options_header(text)
    raw_name = options.get(b"name")
    if kind != b"form-data" or raw_name is None:
        raise _bad("A multipart part has no form-data name in its Content-Disposition header.")
    try:
        name = raw_name.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad("A multipart field name is not valid UTF-8.") from None
    filename = _extended_filename(text)
    if filename is None and b"filename" in options:
        filename = options[b"filename"].decode("utf-8", "replace")
    return name, filename


class _Collector:
    """Synchronous parser callbacks; records fields and file data for the async loop."""

    def __init__(self, max_file_bytes: int, max_field_bytes: int, max_fields: int) -> None:
        self.max_file_bytes = max_file_bytes
        self.max_field_bytes = max_field_bytes
        self.max_fields = max_fields
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.file_bytes = 0
        self.file_start: tuple[dict[str, str], str] | None = None  # not yet announced
        self.file_data: list[bytes] = []  # not yet handed to the sink
        self.file_data_len = 0  # sum of len(file_data)
        self.in_file = False
        self.ended = False
        self._headers: dict[str, bytes] = {}
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._field: str | None = None
        self._value = bytearray()

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_end": self.on_end,
        }

    def on_part_begin(self) -> None:
        self._headers.clear()
        self._field = None
        self._value.clear()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._header_name.decode("latin-1").lower()] = bytes(self._header_value)
        self._header_name.clear()
        self._header_value.clear()

    def on_headers_finished(self) -> None:
        name, filename = _disposition(self._headers.get("content-disposition"))
        if name == FILE_FIELD:
            if self.filename is not None:
                raise _bad("Only one 'file' part is allowed.")
            self.filename = _clean_filename(filename)
            self.file_start = (dict(self.fields), self.filename)
            self.in_file = True
        elif filename is not None:
            raise _bad(f"Unexpected file in parameter '{name}'; upload it as 'file'.", name)
        elif name in self.fields:
            raise _bad(f"Duplicate parameter: '{name}'.", name)
        elif len(self.fields) >= self.max_fields:
            raise _bad(f"Too many form fields; at most {self.max_fields} are allowed.", name)
        else:
            self._field = name

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.in_file:
            self.file_bytes += end - start
            if self.file_bytes > self.max_file_bytes:
                raise PayloadTooLarge(
                    f"File exceeds the maximum upload size of {self.max_file_bytes} bytes."
                )
            self.file_data.append(data[start:end])
            self.file_data_len += end - start
            return
        if len(self._value) + (end - start) > self.max_field_bytes:
            raise _bad(
                f"Parameter '{self._field}' exceeds {self.max_field_bytes} bytes.", self._field
            )
        self._value += data[start:end]

    def on_part_end(self) -> None:
        if self.in_file:
            self.in_file = False
        elif self._field is not None:
            try:
                self.fields[self._field] = self._value.decode("utf-8")
            except UnicodeDecodeError:
                raise _bad(f"Parameter '{self._field}' is not valid UTF-8.", self._field) from None

    def on_end(self) -> None:
        self.ended = True


async def read_multipart(
    stream: AsyncIterable[bytes],
    content_type: str | None,
    *,
    on_file_start: Callable[[dict[str, str], str], Awaitable[None]],
    on_file_chunk: Callable[[bytes], Awaitable[None]],
    max_file_bytes: int,
    max_field_bytes: int = 64 * 1024,
    max_fields: int = 32,
) -> MultipartResult:
    """Parse a multipart/form-data body from `stream`, streaming the `file` part to a sink.

    `on_file_start(fields_so_far, filename)` is awaited once, when the `file` part's headers
    have been parsed and before any of its bytes reach `on_file_chunk`, which receives the
    file's bytes in order (coalesced to ~256 KiB). Reading stops at the closing boundary (any
    epilogue is left unread). Raises `InvalidRequest` for a missing or malformed body, fields,
    or file part, and `PayloadTooLarge` as soon as the file crosses `max_file_bytes`.
    """
    collector = _Collector(max_file_bytes, max_field_bytes, max_fields)
    try:
        parser = MultipartParser(_boundary(content_type), collector.callbacks())
    except FormParserError as exc:  # e.g. a boundary longer than the parser allows
        raise _bad(f"Invalid multipart/form-data boundary: {exc}.") from None
    async for chunk in stream:
        try:
            parser.write(chunk)
        except FormParserError as exc:
            raise _bad(f"Malformed multipart/form-data body: {exc}.") from None
        if collector.file_start is not None:
            fields, filename = collector.file_start
            collector.file_start = None
            await on_file_start(fields, filename)
        if collector.file_data_len >= _FLUSH_BYTES or (
            collector.file_data and not collector.in_file
        ):
            data = b"".join(collector.file_data)  # no copy when it is a single piece
            collector.file_data.clear()
            collector.file_data_len = 0
            await on_file_chunk(data)
        if collector.ended:
            break
    if not collector.ended:
        raise _bad("The multipart/form-data body ended before its closing boundary.")
    if collector.filename is None:
        raise _bad("Missing required parameter: 'file'.", code="missing_required_parameter")
    return MultipartResult(collector.fields, collector.filename, collector.file_bytes)
