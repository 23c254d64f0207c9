"""A 2,000-line batch mixing successes, permanent 400s, transient 429/5xx, timeouts — end to end
with the `openai` SDK, on the embedded default and on the server stack with two workers."""

from __future__ import annotations

import pytest

from support.mixed import check_mixed_batch
from support.stacks import Stack


@pytest.mark.slow
def test_mixed_batch_embedded(stack: Stack) -> None:
    stack.upstream.reset()
    check_mixed_batch(stack.client(), stack.upstream)
