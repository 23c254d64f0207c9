"""`/metrics` scrapes in the Prometheus text format and reflects the work done."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from support.batches import chat_line, submit, wait_for
from support.stacks import Stack


def scrape(stack: Stack) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    response = httpx.get(stack.base_url.removesuffix("/v1") + "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_metrics_count_batches_and_lines(stack: Stack) -> None:
    client = stack.client()
    before = scrape(stack)
    lines = [
        chat_line(f"m-{i}", {"fail_times": -1, "status": 400} if i == 0 else None) for i in range(5)
    ]
    batch = wait_for(client, submit(client, lines).id)
    assert batch.status == "completed"
    after = scrape(stack)

    def lines_total(
        snapshot: dict[str, dict[tuple[tuple[str, str], ...], float]], outcome: str
    ) -> float:
        return sum(
            value
            for labels, value in snapshot.get("batchgate_lines_total", {}).items()
            if dict(labels)["outcome"] == outcome and dict(labels)["model"] == "test-model"
        )

    assert lines_total(after, "succeeded") - lines_total(before, "succeeded") == 4
    assert lines_total(after, "failed") - lines_total(before, "failed") == 1
    assert after["batchgate_batches"][(("status", "completed"),)] >= 1
    assert "batchgate_upstream_request_seconds_count" in after
    assert "batchgate_lines_waiting" in after
    assert "batchgate_upstream_in_flight" in after
