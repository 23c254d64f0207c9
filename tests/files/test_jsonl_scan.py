"""Tests for the streaming JSONL splitter and the upload-time batch file scanner."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest

from batchgate.errors import InvalidFileFormat
from batchgate.files.jsonl_scan import JsonlScanner, LineSplitter, iter_lines

PREFIX = "Invalid file format for Batch API. "
GOOD = b'{"custom_id": "r1", "method": "POST", "url": "/v1/chat/completions", "body": {}}'
CHUNK_SIZES = [1, 2, 3, 7, 64, 1 << 20]


def chunked(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def scan(data: bytes, size: int = 1 << 20, **kwargs: int) -> JsonlScanner:
    scanner = JsonlScanner(**kwargs)
    for chunk in chunked(data, size):
        scanner.feed(chunk)
    scanner.finish()
    return scanner


def scan_error(data: bytes, size: int = 1 << 20, **kwargs: int) -> InvalidFileFormat:
    with pytest.raises(InvalidFileFormat) as info:
        scan(data, size, **kwargs)
    return info.value


# --- LineSplitter / iter_lines --------------------------------------------------------------


@pytest.mark.parametrize("size", CHUNK_SIZES)
def test_iter_lines_numbers_offsets_and_endings(size: int) -> None:
    data = b'{"a":1}\r\n\r\n  \n{"b":2}\n{"c":3}\r\n{"d":"x\\ny"}'
    lines = list(iter_lines(chunked(data, size)))
    assert [(n, line) for n, _, line in lines] == [
        (1, b'{"a":1}'),
        (2, b""),
        (3, b"  "),
        (4, b'{"b":2}'),
        (5, b'{"c":3}'),
        (6, b'{"d":"x\\ny"}'),  # no trailing newline: still a line
    ]
    for _, offset, line in lines:
        assert data[offset : offset + len(line)] == line
    assert [offset for _, offset, _ in lines] == [0, 9, 11, 14, 22, 31]


@pytest.mark.parametrize("size", CHUNK_SIZES)
def test_iter_lines_trailing_newline_adds_no_empty_line(size: int) -> None:
    data = b"a\r\nbb\n\n"
    assert list(iter_lines(chunked(data, size))) == [(1, 0, b"a"), (2, 3, b"bb"), (3, 6, b"")]


def test_iter_lines_empty_input() -> None:
    assert list(iter_lines([])) == []
    assert list(iter_lines([b"", b""])) == []


@pytest.mark.parametrize("size", [1, 5, 1000])
def test_iter_lines_offsets_on_a_realistic_file(size: int) -> None:
    rows = [orjson.dumps({"custom_id": f"r{i}", "pad": "é" * i}) for i in range(40)]
    data = b"\r\n".join(rows[:20]) + b"\n" + b"\n".join(rows[20:])
    lines = list(iter_lines(chunked(data, size)))
    assert [line for _, _, line in lines] == rows
    for _, offset, line in lines:
        assert data[offset : offset + len(line)] == line


def test_splitter_limit_counts_line_without_crlf() -> None:
    # Exactly max_line_bytes of content is fine, with either ending; one more byte is not.
    data = b"x" * 10 + b"\r\n" + b"y" * 10 + b"\n" + b"z" * 10
    assert [len(line) for _, _, line in iter_lines(chunked(data, 4), max_line_bytes=10)] == [10] * 3
    with pytest.raises(InvalidFileFormat, match=r"Line 2 is longer than 10 bytes\.") as info:
        list(iter_lines([b"ok\n" + b"y" * 11 + b"\n"], max_line_bytes=10))
    assert info.value.line == 2


def test_splitter_returns_earlier_lines_before_raising() -> None:
    splitter = LineSplitter(max_line_bytes=4)
    assert splitter.feed(b"ab\ncdefgh") == [(1, 0, b"ab")]  # line 2 already too long
    assert splitter.error is not None
    assert splitter.error.line == 2
    with pytest.raises(InvalidFileFormat):
        splitter.feed(b"\n")
    with pytest.raises(InvalidFileFormat):
        splitter.close()


def test_splitter_does_not_buffer_an_oversized_line() -> None:
    splitter = LineSplitter(max_line_bytes=100)
    splitter.feed(b"x" * 60)
    with pytest.raises(InvalidFileFormat, match="Line 1 is longer than 100 bytes"):
        splitter.feed(b"x" * 60)  # raised while the line is still incomplete
    assert splitter._pending == []


# --- JsonlScanner: accepted input ------------------------------------------------------------


@pytest.mark.parametrize("size", CHUNK_SIZES)
def test_scanner_accepts_crlf_blank_lines_and_missing_final_newline(size: int) -> None:
    data = GOOD + b"\r\n\r\n \t \n" + GOOD + b"\n\n" + GOOD
    scanner = scan(data, size)
    assert scanner.line_count == 3
    assert scanner.problem is None


def test_scanner_counts_lines_of_a_multi_chunk_file() -> None:
    data = b"\n".join(GOOD for _ in range(5000)) + b"\n"
    assert scan(data, 65536).line_count == 5000


# --- JsonlScanner: rejected input ------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"\n", b"\r\n  \n\t\n"])
def test_empty_file(data: bytes) -> None:
    err = scan_error(data)
    assert err.message == PREFIX + "The file is empty; it must contain at least one request line."
    assert err.line is None
    assert err.param == "file"
    assert err.code == "invalid_file_format"
    assert err.status_code == 400


@pytest.mark.parametrize("size", [1, 2, 1 << 20])
def test_bom_is_rejected_at_line_1(size: int) -> None:
    err = scan_error(b"\xef\xbb\xbf" + GOOD + b"\n", size)
    assert err.line == 1
    assert err.message == (
        PREFIX + "Line 1 starts with a UTF-8 byte order mark (BOM); "
        "save the file as UTF-8 without a BOM."
    )


@pytest.mark.parametrize("size", [1, 7, 1 << 20])
def test_invalid_utf8_names_the_line(size: int) -> None:
    data = GOOD + b"\n\n" + b'{"custom_id": "caf\xe9"}\n' + GOOD
    err = scan_error(data, size)
    assert err.line == 3
    assert err.message == PREFIX + "Line 3 is not valid UTF-8."


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (b'{"custom_id": "r2"', "unexpected end of data at column"),
        (b"{'a': 1}", "at column 2"),
        (b'{"a": 1} {"b": 2}', "unexpected content after document"),
        (b'{"a": NaN}', "at column 7"),
    ],
)
@pytest.mark.parametrize("size", [1, 1 << 20])
def test_invalid_json_names_the_line_and_reason(bad: bytes, reason: str, size: int) -> None:
    err = scan_error(GOOD + b"\r\n" + bad + b"\r\n" + GOOD, size)
    assert err.line == 2
    assert err.message.startswith(PREFIX + "Line 2 is not valid JSON: ")
    assert reason in err.message
    assert err.message.endswith(".")


@pytest.mark.parametrize(
    ("value", "got"),
    [
        (b"[1, 2]", "an array"),
        (b'"text"', "a string"),
        (b"42", "a number"),
        (b"4.2", "a number"),
        (b"true", "a boolean"),
        (b"null", "null"),
    ],
)
def test_non_object_lines(value: bytes, got: str) -> None:
    err = scan_error(GOOD + b"\n\n\n" + value + b"\n")
    assert err.line == 4
    assert err.message == PREFIX + f"Line 4 must be a JSON object, got {got}."


def test_only_the_first_problem_is_reported() -> None:
    scanner = JsonlScanner()
    scanner.feed(GOOD + b"\n[1]\n")
    first = scanner.problem
    assert first is not None
    assert first.line == 2
    scanner.feed(b"not json\n\xff\n")
    with pytest.raises(InvalidFileFormat) as info:
        scanner.finish()
    assert info.value is first


@pytest.mark.parametrize("size", [1, 3, 1 << 20])
def test_line_too_long(size: int) -> None:
    data = GOOD + b"\n" + b'{"a": "' + b"x" * 200 + b'"}\n' + GOOD
    err = scan_error(data, size, max_line_bytes=100)
    assert err.line == 2
    assert err.message == PREFIX + "Line 2 is longer than 100 bytes."


def test_earlier_problem_wins_over_later_long_line_in_same_chunk() -> None:
    err = scan_error(GOOD + b"\n[1]\n" + b"x" * 500 + b"\n", max_line_bytes=100)
    assert err.line == 2
    assert "must be a JSON object" in err.message


def test_feed_never_raises() -> None:
    scanner = JsonlScanner(max_line_bytes=8)
    for chunk in (b"\xef\xbb\xbf", b"x" * 100, b"\n[", b"\xff\n"):
        scanner.feed(chunk)
    assert scanner.problem is not None
    assert scanner.problem.line == 1


def test_problem_is_visible_right_after_the_feed_that_found_it() -> None:
    # The too-long line is detected in the same feed that completed a valid line before it.
    scanner = JsonlScanner(max_line_bytes=100)
    scanner.feed(GOOD + b"\n" + b"x" * 500)
    assert scanner.problem is not None
    assert scanner.problem.line == 2


def test_only_json_whitespace_makes_a_line_blank() -> None:
    err = scan_error(GOOD + b"\n\x0c\n")
    assert err.line == 2
    assert "Line 2 is not valid JSON" in err.message
