"""Streaming JSONL line splitting and the upload-time format check for Batch API input files.

`LineSplitter` is the single implementation of "bytes in, physical lines out"; the upload
scanner (`JsonlScanner`) and the validation job (re-reading the stored file) both use it, so
line numbers and byte offsets always agree between the two.
Memory is bounded by the longest line: a line that grows past `max_line_bytes` is rejected
before it is buffered any further.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import orjson

from batchgate.errors import InvalidFileFormat

__all__ = ["DEFAULT_MAX_LINE_BYTES", "JsonlScanner", "LineSplitter", "iter_lines"]

DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024
_PREFIX = "Invalid file format for Batch API."
_BOM = b"\xef\xbb\xbf"
# JSON's own whitespace (plus the "\r" of a CRLF ending); a line of only these is blank.
_BLANK = b" \t\r"
# What orjson can return besides a dict; int and float fall through to "a number".
_TYPE_NAMES = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}

Line = tuple[int, int, bytes]
"""(1-based physical line number, byte offset of the line's start, line without its ending)."""
RawLines = tuple[int, int, list[bytes]]
"""(number of the first line, its byte offset, lines that may still end in b"\\r")."""


def _too_long(line_no: int, limit: int) -> InvalidFileFormat:
    message = f"{_PREFIX} Line {line_no} is longer than {limit} bytes."
    return InvalidFileFormat(message, line=line_no)


class LineSplitter:
    """Incrementally splits a byte stream on `\\n` into `(line_no, offset, line)` tuples.

    `line_no` is the 1-based physical line number (blank lines count), `offset` the byte offset
    of the line's first byte in the whole stream, and `line` the bytes without the trailing
    `\\n` or `\\r\\n`. A final line without a trailing newline is returned by `close()`; a
    stream ending in `\\n` has no extra empty last line.

    A line longer than `max_line_bytes` raises `InvalidFileFormat`: from the call that detects
    it, or, if that call also completed earlier lines, from the next `feed`/`close` call, so
    that callers always see every line before the bad one first.
    """

    __slots__ = ("_error", "_line_no", "_max", "_offset", "_pending", "_pending_len")

    def __init__(self, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        self._max = max_line_bytes
        self._line_no = 1  # number of the next line to complete
        self._offset = 0  # its byte offset
        # Pieces of the unfinished last line; kept as a list so a long line arriving in many
        # chunks is joined once instead of being re-copied on every chunk.
        self._pending: list[bytes] = []
        self._pending_len = 0
        self._error: InvalidFileFormat | None = None

    @property
    def error(self) -> InvalidFileFormat | None:
        """The over-long-line error, once detected (even if not raised yet)."""
        return self._error

    def feed(self, chunk: bytes) -> list[Line]:
        """Add `chunk` and return the lines it completed, in order."""
        return _cook(self.feed_raw(chunk))

    def close(self) -> list[Line]:
        """Return the final line if the stream did not end with a newline."""
        return _cook(self.close_raw())

    def feed_raw(self, chunk: bytes) -> RawLines:
        """Like `feed`, without per-line work: a CRLF line keeps its `\\r` and the list holds
        only the bytes, line `first + i` being element `i`. This is the scanner's fast path.
        """
        if self._error is not None:
            raise self._error
        parts = chunk.split(b"\n")
        tail = parts.pop()
        first_no, first_offset = self._line_no, self._offset
        if parts:
            if self._pending:
                self._pending.append(parts[0])
                parts[0] = b"".join(self._pending)
                self._pending.clear()
            # Everything before `tail` was complete lines: no need to sum their lengths.
            self._offset += self._pending_len + len(chunk) - len(tail)
            self._pending_len = 0
            self._line_no += len(parts)
            parts = self._enforce_limit(first_no, parts)
        if tail and self._error is None:
            self._pending.append(tail)
            self._pending_len += len(tail)
            # +1: a trailing "\r" may still turn out to be half of a "\r\n" ending.
            if self._pending_len > self._max + 1:
                self._error = _too_long(self._line_no, self._max)
                self._pending.clear()  # stop holding the oversized line
        if self._error is not None and not parts:
            raise self._error
        return first_no, first_offset, parts

    def close_raw(self) -> RawLines:
        """Like `close`, in the shape of `feed_raw`."""
        if self._error is None and not self._pending:
            return self._line_no, self._offset, []
        return self.feed_raw(b"\n")  # terminates the unterminated last line (or re-raises)

    def _enforce_limit(self, first: int, parts: list[bytes]) -> list[bytes]:
        # One C-level pass decides whether any line is too long; only then look line by line.
        if max(map(len, parts)) <= self._max:
            return parts
        for i, raw in enumerate(parts):
            if len(raw) - raw.endswith(b"\r") > self._max:
                self._error = _too_long(first + i, self._max)
                return parts[:i]
        return parts


def _cook(raw_lines: RawLines) -> list[Line]:
    line_no, offset, parts = raw_lines
    out: list[Line] = []
    for raw in parts:
        out.append((line_no, offset, raw[:-1] if raw.endswith(b"\r") else raw))
        line_no += 1
        offset += len(raw) + 1
    return out


def iter_lines(
    chunks: Iterable[bytes], *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
) -> Iterator[Line]:
    """Yield `(line_no, offset, line)` for every physical line (blank ones included)."""
    splitter = LineSplitter(max_line_bytes=max_line_bytes)
    for chunk in chunks:
        yield from splitter.feed(chunk)
    yield from splitter.close()


def _diagnose(line_no: int, raw: bytes, exc: orjson.JSONDecodeError) -> InvalidFileFormat | None:
    """Explain why orjson rejected a line; None if the line is merely blank (allowed)."""
    if line_no == 1 and raw.startswith(_BOM):
        return InvalidFileFormat(
            f"{_PREFIX} Line 1 starts with a UTF-8 byte order mark (BOM); "
            "save the file as UTF-8 without a BOM.",
            line=1,
        )
    if not raw.strip(_BLANK):
        return None
    # orjson reports bad UTF-8 as a generic decode error; decoding again only on this (rare)
    # failure path gives users the precise cause without slowing down valid lines.
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return InvalidFileFormat(f"{_PREFIX} Line {line_no} is not valid UTF-8.", line=line_no)
    reason = f"{exc.msg} at column {exc.colno}"
    return InvalidFileFormat(f"{_PREFIX} Line {line_no} is not valid JSON: {reason}.", line=line_no)


class JsonlScanner:
    """Checks a batch input file as it streams: every non-blank line must be a JSON object.

    `feed` never raises, so the upload path can keep streaming to storage and decide what to do
    afterwards; it records only the first problem (and stops parsing after it). `finish`
    raises that problem as `InvalidFileFormat`, or reports an empty file.
    """

    __slots__ = ("_count", "_problem", "_splitter")

    def __init__(self, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        self._splitter = LineSplitter(max_line_bytes=max_line_bytes)
        self._count = 0
        self._problem: InvalidFileFormat | None = None

    @property
    def line_count(self) -> int:
        """Number of non-blank lines seen so far."""
        return self._count

    @property
    def problem(self) -> InvalidFileFormat | None:
        """The first problem found so far, if any (lets a caller abort an upload early)."""
        return self._problem

    def feed(self, chunk: bytes) -> None:
        """Scan the next chunk of the file. Never raises; see `finish`."""
        if self._problem is not None:
            return  # only the first problem is reported, so skip the work
        try:
            self._check(self._splitter.feed_raw(chunk))
        except InvalidFileFormat as exc:
            self._problem = exc
        self._problem = self._problem or self._splitter.error

    def finish(self) -> None:
        """Raise `InvalidFileFormat` for the first problem found, or if no request line was seen."""
        if self._problem is None:
            try:
                self._check(self._splitter.close_raw())
            except InvalidFileFormat as exc:
                self._problem = exc
        if self._problem is not None:
            raise self._problem
        if self._count == 0:
            message = f"{_PREFIX} The file is empty; it must contain at least one request line."
            raise InvalidFileFormat(message)

    def _check(self, raw_lines: RawLines) -> None:
        # The hot loop: a valid line costs one orjson.loads and one type check. orjson treats a
        # trailing "\r" as whitespace, and every other rule (BOM, blank, UTF-8, syntax) shows up
        # as an orjson failure, so those are only examined on that path.
        first, _offset, lines = raw_lines
        loads, decode_error, count = orjson.loads, orjson.JSONDecodeError, 0
        for index, raw in enumerate(lines):
            try:
                obj = loads(raw)
            except decode_error as exc:
                problem = _diagnose(first + index, raw, exc)
                if problem is None:
                    continue  # blank lines are allowed; they only advance the line number
                self._problem = problem
                break
            if type(obj) is not dict:
                got = _TYPE_NAMES.get(type(obj), "a number")
                message = f"{_PREFIX} Line {first + index} must be a JSON object, got {got}."
                self._problem = InvalidFileFormat(message, line=first + index)
                break
            count += 1
        self._count += count
