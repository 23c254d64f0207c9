"""Failures the console reports as one line on stderr, with an exit code, never a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the SDK takes a second to import; commands that never call it skip that
    import openai
#: exit code for usage mistakes and API errors (HTTP errors, unreachable server)
EXIT_ERROR = 2


class ConsoleError(Exception):
    """A problem to report as `batchgate: <message>` and exit with `exit_code`."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _server_message(exc: openai.APIStatusError) -> str:
    body: Any = exc.body
    if isinstance(body, dict):
        message = body.get("message")
        if isinstance(message, str) and message:
            return message
    text = exc.response.text.strip()
    return text[:300] if text else exc.response.reason_phrase


_STATUS_HINTS = {
    401: "the server rejected the API key",
    403: "the API key may not do this",
    404: "not found",
    413: "too large",
    429: "rate limited",
}


def describe(exc: openai.OpenAIError, base_url: str) -> str:
    """One readable line for an SDK exception."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return f"{base_url} did not answer in time"
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__
        reason = f" ({type(cause).__name__}: {cause})" if cause else ""
        return f"cannot reach {base_url} — is `batchgate serve` running?{reason}"
    if isinstance(exc, openai.APIStatusError):
        hint = _STATUS_HINTS.get(exc.status_code, "the server refused the request")
        return f"{hint} (HTTP {exc.status_code}): {_server_message(exc)}"
    return str(exc)


@contextmanager
def api_errors(base_url: str) -> Iterator[None]:
    """Turn SDK exceptions raised inside the block into a `ConsoleError`."""
    import openai

    try:
        yield
    except openai.OpenAIError as exc:
        raise ConsoleError(describe(exc, base_url)) from None
