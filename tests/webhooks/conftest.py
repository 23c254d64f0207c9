"""Fixtures for the webhook tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from webhooks.hooks import Hooks


@pytest.fixture
def hooks() -> Iterator[Hooks]:
    with ExitStack() as stack:
        made = Hooks(stack)
        try:
            yield made
        finally:
            made.close()
