"""Dashboard pages over plain HTTP: isolation, escaping, files, paging, live refresh, errors."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

from support.batches import chat_line, wait_for
from support.stacks import Stack
from ui.dashboard import finished_batch, signed_in, slow_batch, submit, unknown_like

SCRIPT = "<script>alert(1)</script>"


def _without(text: str, object_id: str) -> str:
    return text.replace(object_id, "<id>").replace(unknown_like(object_id), "<id>")


def test_another_tenants_batch_and_file_look_unknown(stack: Stack) -> None:
    alice_key = stack.new_key()
    theirs = finished_batch(stack.client(alice_key), failing=1)
    assert theirs.output_file_id
    assert theirs.error_file_id
    with signed_in(stack, stack.new_key()) as bob, signed_in(stack, alice_key) as alice:
        assert theirs.id in alice.get("/ui").text
        assert theirs.id not in bob.get("/ui").text
        for path in (
            f"/ui/batches/{theirs.id}",
            f"/ui/batches/{theirs.id}?partial=1",
            f"/ui/files/{theirs.output_file_id}/content",
            f"/ui/files/{theirs.error_file_id}/content",
            f"/ui/files/{theirs.input_file_id}/content",
        ):
            assert alice.get(path).status_code == 200, path
            foreign = bob.get(path)
            object_id = theirs.id if "/batches/" in path else path.split("/")[3]
            unknown = bob.get(path.replace(object_id, unknown_like(object_id)))
            assert foreign.status_code == unknown.status_code == 404, path
            assert foreign.headers["content-type"].startswith("text/html")
            assert _without(foreign.text, object_id) == _without(unknown.text, object_id)
        cancel = bob.post(f"/ui/batches/{theirs.id}/cancel")
        assert cancel.status_code == 404


def test_untrusted_text_is_escaped(stack: Stack) -> None:
    key = stack.new_key()
    client = stack.client(key)
    duplicate = chat_line("<b>dup</b>")
    batch = submit(
        client,
        [duplicate, duplicate],
        metadata={"note": SCRIPT, "<i>key</i>": "v"},
        filename="<img src=x onerror=alert(1)>.jsonl",
    )
    batch = wait_for(client, batch.id)
    assert batch.status == "failed"  # duplicate custom_id: its message quotes the id
    with signed_in(stack, key) as http:
        for page in (http.get("/ui"), http.get(f"/ui/batches/{batch.id}")):
            assert page.status_code == 200
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
            assert SCRIPT not in page.text
            assert "<i>key</i>" not in page.text
        detail = http.get(f"/ui/batches/{batch.id}").text
        assert "&lt;i&gt;key&lt;/i&gt;" in detail
        assert "&lt;img src=x onerror=alert(1)&gt;.jsonl" in detail
        assert "<img" not in detail
        assert "&lt;b&gt;dup&lt;/b&gt;" in detail
        assert "<b>dup</b>" not in detail
        assert "duplicate_custom_id" in detail


def test_batch_page_shows_errors_and_downloads_files(stack: Stack) -> None:
    key = stack.new_key()
    client = stack.client(key)
    batch = finished_batch(client, failing=2, total=5)
    assert batch.output_file_id
    assert batch.error_file_id
    with signed_in(stack, key) as http:
        page = http.get(f"/ui/batches/{batch.id}")
        assert page.status_code == 200
        assert "data-refresh" not in page.text  # terminal: no refresh
        for moment in ("created", "in progress", "finalizing", "completed", "expires"):
            assert f'<span class="t-label">{moment}</span>' in page.text
        assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", page.text)
        # the error file's first lines: custom_id, status, code
        assert "first 2 lines" in page.text
        for custom_id in ("r0", "r1"):
            assert f'<td class="mono">{custom_id}</td>' in page.text
        assert '<td class="num-cell">400</td>' in page.text
        assert 'aria-valuenow="5"' in page.text
        for file_id in (batch.output_file_id, batch.error_file_id):
            href = f"/ui/files/{file_id}/content"
            assert f'href="{href}"' in page.text
            download = http.get(href)
            assert download.status_code == 200
            assert download.headers["content-disposition"].startswith("attachment;")
            assert download.content == client.files.content(file_id).content
        assert len(http.get(f"/ui/files/{batch.output_file_id}/content").text.splitlines()) == 3


def test_list_pages_fifty_at_a_time_newest_first(stack: Stack) -> None:
    key = stack.new_key()
    client = stack.client(key)
    upload = client.files.create(file=("in.jsonl", b'{"custom_id":"a"}\n'), purpose="batch")

    def create(_: int) -> str:
        return client.batches.create(
            input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h"
        ).id

    with ThreadPoolExecutor(8) as pool:
        ids = sorted(pool.map(create, range(51)))  # ids are time-ordered
    with signed_in(stack, key) as http:
        first = http.get("/ui").text
        shown = re.findall(r'<tr data-batch="([^"]+)"', first)
        assert shown == ids[::-1][:50]
        older = re.search(r'href="/ui\?after=([^"]+)">Older', first)
        assert older is not None
        assert older.group(1) == ids[1]
        second = http.get(f"/ui?after={older.group(1)}").text
        assert re.findall(r'<tr data-batch="([^"]+)"', second) == [ids[0]]
        assert "Older" not in second
        assert "Newest" in second


def test_pages_refresh_while_a_batch_runs(stack: Stack) -> None:
    key = stack.new_key()
    running = slow_batch(stack.client(key))
    with signed_in(stack, key) as http:
        for path in ("/ui", f"/ui/batches/{running.id}"):
            full = http.get(path).text
            assert '<div id="live" data-refresh="' in full
            assert '<meta http-equiv="refresh" content="2">' in full  # for browsers without JS
            fragment = http.get(path, params={"partial": "1"}).text
            assert fragment.startswith('<div id="live" data-refresh="')
            assert "<html" not in fragment
            assert running.id in fragment
        assert "Cancel batch" in http.get(f"/ui/batches/{running.id}").text
    stack.client(key).batches.cancel(running.id)  # don't leave it running


def test_errors_under_ui_are_html_and_the_api_keeps_json(stack: Stack) -> None:
    with signed_in(stack, stack.new_key()) as http:
        page = http.get("/ui/no/such/page")
        assert page.status_code == 404
        assert page.headers["content-type"].startswith("text/html")
        assert "Not found" in page.text
        wrong_method = http.delete("/ui")
        assert wrong_method.status_code == 405
        assert wrong_method.headers["content-type"].startswith("text/html")
        api = http.get("/v1/no/such/page")
        assert api.status_code == 404
        assert api.json()["error"]["message"].startswith("Invalid URL")
