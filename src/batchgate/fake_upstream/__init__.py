"""An OpenAI-compatible fake upstream for tests, demos and throughput benchmarks.

Endpoints (``POST`` unless noted): ``/v1/chat/completions``, ``/v1/completions``,
``/v1/embeddings``, ``/v1/responses``, ``/v1/moderations``, ``GET /v1/models``. Replies are
deterministic: the text is ``"echo: "`` + the first 40 characters of the last user message, and a
token is a whitespace-separated word (plus 4 per chat message / response input item).
``"stream": true`` is rejected with a 400. Every response carries ``x-request-id``.

Per-request behaviour is driven by an optional ``x_fake`` object in the request body (the batch
gateway forwards bodies untouched, so it travels with each batch line):

``key`` (str)
    Identity for attempt counting. Default: the body's ``user`` string, else the SHA-1 of the
    raw body (identical retries share a key).
``fail_times`` (int, default 0) and ``status`` (int, default 500)
    The first ``fail_times`` attempts with this key get ``status`` with the OpenAI error
    envelope the real API sends for it (429 ``rate_limit_exceeded``, 5xx ``server_error``,
    400 ``context_length_exceeded``, ...). Later attempts succeed; ``-1`` fails forever.
``retry_after`` (float seconds)
    Sent as ``retry-after`` (ceil, seconds) and ``retry-after-ms``. A 429 always carries them
    (0.1 s when not given).
``hang_s`` (float) and ``hang_times`` (int, default -1 = every attempt)
    The first ``hang_times`` attempts sleep ``hang_s`` *instead of* the normal latency, to make
    clients time out. Combine with ``fail_times`` to hang and then fail.
``latency_ms`` (float)
    Replaces the server latency (and jitter) for this request when it is not hanging.

A malformed directive is answered with a 400 naming the bad field.

``GET /_fake/stats`` returns ``{"total", "in_flight", "max_in_flight", "by_key", "by_status"}``.
``total`` and ``by_status`` count every request that reached a ``/v1`` POST handler, failures
included (499 = client disconnected first). ``by_key`` only counts requests that have an
``x_fake`` directive or a ``user`` string, so plain benchmark traffic costs nothing there.
``POST /_fake/reset`` clears the counters and the per-key attempt numbers.
"""

from batchgate.fake_upstream.app import FAKE_UPSTREAM, FakeUpstream, create_app, run

__all__ = ["FAKE_UPSTREAM", "FakeUpstream", "create_app", "run"]
