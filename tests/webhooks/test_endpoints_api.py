"""`/v1/webhook_endpoints` through the `openai` SDK's `client.webhooks` resource: shapes, paging,
validation, tenant isolation, secrets (shown on create and rotate only) and test events."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import openai
import pytest

from support.api import assert_error, raw_http
from support.stacks import Stack
from webhooks.hooks import ALL_EVENTS, Hooks


def test_create_retrieve_list_update_delete(stack: Stack) -> None:
    client = stack.client()
    created = client.webhooks.create(
        url="https://hooks.example.com/batchgate?team=search",
        event_types=["batch.completed", "batch.failed"],
        name="search",
    )
    assert created.id.startswith("we_")
    assert created.object == "webhook_endpoint"
    assert created.url == "https://hooks.example.com/batchgate?team=search"
    assert created.event_types == ["batch.completed", "batch.failed"]
    assert created.name == "search"
    assert created.updated_at == created.created_at
    secret = created.signing_secret
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
    assert created.signing_secret_hint
    assert secret not in created.signing_secret_hint

    fetched = client.webhooks.retrieve(created.id)
    assert fetched.model_dump() == {
        k: v for k, v in created.model_dump().items() if k != "signing_secret"
    }
    updated = client.webhooks.update(created.id, event_types=["batch.expired"], name="renamed")
    assert (updated.event_types, updated.name, updated.url) == (
        ["batch.expired"],
        "renamed",
        created.url,
    )
    assert client.webhooks.retrieve(created.id).event_types == ["batch.expired"]

    deleted = client.webhooks.delete(created.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (
        created.id,
        True,
        "webhook_endpoint.deleted",
    )
    with pytest.raises(openai.NotFoundError):
        client.webhooks.retrieve(created.id)
    assert not client.webhooks.list().data


def test_list_pages_newest_first(stack: Stack) -> None:
    client = stack.client()
    ids = [
        client.webhooks.create(url=f"http://127.0.0.1:9/{i}", event_types=ALL_EVENTS, name="p").id
        for i in range(3)
    ]
    first = client.webhooks.list(limit=2)
    assert [e.id for e in first.data] == ids[::-1][:2]
    assert first.has_more
    assert [e.id for e in client.webhooks.list(limit=2, after=first.data[-1].id).data] == ids[:1]
    assert [e.id for e in client.webhooks.list()] == ids[::-1]  # auto-pagination
    assert all(not hasattr(e, "signing_secret") for e in first.data)


def test_secret_is_only_in_create_and_rotate_responses(stack: Stack) -> None:
    key = stack.new_key()
    client = stack.client(key)
    created = client.webhooks.create(url="http://127.0.0.1:9/x", event_types=ALL_EVENTS, name="s")
    rotated = client.webhooks.rotate_secret(created.id)
    assert rotated.signing_secret.startswith("whsec_")
    assert rotated.signing_secret != created.signing_secret
    assert rotated.updated_at is not None
    with raw_http(stack, key) as http:
        texts = [
            http.get(f"webhook_endpoints/{created.id}").text,
            http.get("webhook_endpoints").text,
            http.post(f"webhook_endpoints/{created.id}", json={"name": "t"}).text,
        ]
    for text in texts:
        assert "signing_secret" in text  # the hint, by name
        assert '"signing_secret"' not in text
        for secret in (created.signing_secret, rotated.signing_secret):
            assert secret not in text
            assert secret.removeprefix("whsec_") not in text
    # an unchanged update does not move updated_at
    again = client.webhooks.update(created.id, name="t")
    assert again.updated_at == client.webhooks.retrieve(created.id).updated_at


def test_event_types_default_to_all_and_are_listed(stack: Stack) -> None:
    key = stack.new_key()
    with raw_http(stack, key) as http:
        answer = http.post("webhook_endpoints", json={"url": "http://127.0.0.1:9/all"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["event_types"] == ALL_EVENTS
    assert answer.json()["name"] == ""
    assert stack.client(key).webhooks.event_types.list().data == ALL_EVENTS


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://hooks.example.com/x", "http:// or https://"),
        ("hooks.example.com/x", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("http://user:password@hooks.example.com/x", "user name or password"),
        ("https://token@hooks.example.com/x", "user name or password"),
        ("http:///no-host", "no host"),
        ("http://hooks.example.com:99999/x", "not a valid URL"),
        ("http://hooks.example.com/a b", "whitespace"),
        ("", "http:// or https://"),
    ],
)
def test_bad_url_is_a_400_naming_url(stack: Stack, url: str, reason: str) -> None:
    client = stack.client()
    with pytest.raises(openai.BadRequestError) as caught:
        client.webhooks.create(url=url, event_types=ALL_EVENTS, name="bad")
    assert_error(caught.value.response, 400, param="url", code="invalid_url", contains=[reason])
    ok = client.webhooks.create(url="http://127.0.0.1:9/ok", event_types=ALL_EVENTS, name="ok")
    with pytest.raises(openai.BadRequestError) as caught:
        client.webhooks.update(ok.id, url=url)
    assert_error(caught.value.response, 400, param="url")
    assert client.webhooks.retrieve(ok.id).url == "http://127.0.0.1:9/ok"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"url": "http://127.0.0.1:9/", "event_types": ["response.completed"]}, "event_types"),
        ({"url": "http://127.0.0.1:9/", "event_types": []}, "event_types"),
        ({"url": "http://127.0.0.1:9/", "event_types": "batch.completed"}, "event_types"),
        ({"url": "http://127.0.0.1:9/", "name": "n" * 201}, "name"),
        ({"url": "http://127.0.0.1:9/", "secret": "whsec_mine"}, "secret"),
        ({"event_types": ["batch.completed"]}, "url"),
    ],
)
def test_bad_create_bodies_are_400s(stack: Stack, body: dict[str, Any], param: str) -> None:
    with raw_http(stack, stack.new_key()) as http:
        answer = http.post("webhook_endpoints", json=body)
    assert_error(answer, 400, param=param)


def unknown_like(endpoint_id: str) -> str:
    return "we_" + "0" * (len(endpoint_id) - 3)


def test_another_tenants_endpoint_looks_unknown(stack: Stack) -> None:
    alice, bob = stack.client(), stack.client()
    theirs = alice.webhooks.create(url="http://127.0.0.1:9/a", event_types=ALL_EVENTS, name="a")
    calls: list[Callable[[str], Any]] = [
        bob.webhooks.retrieve,
        lambda i: bob.webhooks.update(i, name="mine now"),
        bob.webhooks.delete,
        bob.webhooks.rotate_secret,
        lambda i: bob.webhooks.test(i, event_type="batch.completed"),
    ]
    for call in calls:
        errors = []
        for endpoint_id in (theirs.id, unknown_like(theirs.id)):
            with pytest.raises(openai.NotFoundError) as caught:
                call(endpoint_id)
            error = assert_error(caught.value.response, 404, param="id")
            assert endpoint_id in error["message"]
            errors.append({**error, "message": error["message"].replace(endpoint_id, "<id>")})
        assert errors[0] == errors[1]
    assert not bob.webhooks.list().data
    still = alice.webhooks.retrieve(theirs.id)
    assert (still.name, still.updated_at) == ("a", theirs.updated_at)


def test_test_event_is_signed_and_rotation_can_keep_the_old_secret(
    stack: Stack, hooks: Hooks
) -> None:
    client = stack.client()
    receiver = hooks.receiver()
    endpoint = hooks.register(client, receiver)
    first = endpoint.signing_secret

    result = client.webhooks.test(endpoint.id, event_type="batch.failed")
    assert (result.status_code, result.success, result.event_type, result.object) == (
        200,
        True,
        "batch.failed",
        "webhook_endpoint.test",
    )
    assert result.webhook_endpoint_id == endpoint.id
    event = receiver.snapshot()[-1].unwrap(first)
    assert (event.type, event.data.id, event.object) == ("batch.failed", "batch_test", "event")

    # rotated, keeping the old secret: deliveries verify with either
    second = client.webhooks.rotate_secret(
        endpoint.id, keep_old_secret_active_for_24_hours=True
    ).signing_secret
    client.webhooks.test(endpoint.id, event_type="batch.completed")
    got = receiver.snapshot()[-1]
    assert len(got.headers["webhook-signature"].split()) == 2
    for secret in (first, second):
        assert got.unwrap(secret).type == "batch.completed"

    # rotated again without keeping: only the newest verifies
    third = client.webhooks.rotate_secret(endpoint.id).signing_secret
    client.webhooks.test(endpoint.id, event_type="batch.expired")
    got = receiver.snapshot()[-1]
    assert got.unwrap(third).type == "batch.expired"
    for old in (first, second):
        with pytest.raises(openai.InvalidWebhookSignatureError):
            got.unwrap(old)

    receiver.fail_first = 1  # the endpoint's answer is reported, whatever it is
    assert client.webhooks.test(endpoint.id, event_type="batch.cancelled").status_code == 500
    with pytest.raises(openai.BadRequestError) as caught:
        client.webhooks.test(endpoint.id, event_type="response.completed")
    assert_error(caught.value.response, 400, param="event_types")

    log = stack.server.tail(2_000_000)
    for secret in (first, second, third):
        assert secret.removeprefix("whsec_") not in log


def test_unreachable_endpoint_test_is_a_400(stack: Stack) -> None:
    client = stack.client()
    endpoint = client.webhooks.create(url="http://127.0.0.1:9/", event_types=ALL_EVENTS, name="x")
    with pytest.raises(openai.BadRequestError) as caught:
        client.webhooks.test(endpoint.id, event_type="batch.completed")
    assert_error(caught.value.response, 400, code="webhook_test_failed", contains=["no answer"])
