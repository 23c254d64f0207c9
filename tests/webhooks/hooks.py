"""Receivers and the endpoints registered for them, cleaned up when a test ends."""

from __future__ import annotations

from contextlib import ExitStack, suppress
from typing import Any

import openai
from openai import OpenAI
from openai.types.webhooks import WebhookEndpointWithSecret

from webhooks.receiver import Receiver

ALL_EVENTS = ["batch.completed", "batch.failed", "batch.expired", "batch.cancelled"]


class Hooks:
    """Starts receivers and registers endpoints for them; cleans both up at the end."""

    def __init__(self, stack: ExitStack) -> None:
        self._stack = stack
        self._created: list[tuple[OpenAI, str]] = []

    def receiver(self, fail_first: int = 0) -> Receiver:
        return self._stack.enter_context(Receiver(fail_first))

    def register(
        self, client: OpenAI, receiver: Receiver, events: list[Any] | None = None
    ) -> WebhookEndpointWithSecret:
        endpoint = client.webhooks.create(
            url=receiver.url, event_types=events or ALL_EVENTS, name="test"
        )
        self._created.append((client, endpoint.id))
        return endpoint

    def close(self) -> None:
        # no retries left pointing at a closed port for the rest of the session
        for client, endpoint_id in self._created:
            with suppress(openai.NotFoundError):
                client.webhooks.delete(endpoint_id)
