"""Which server to talk to, with which key: flags first, then OPENAI_BASE_URL / OPENAI_API_KEY."""

from __future__ import annotations

import os
from dataclasses import dataclass

from openai import OpenAI

from batchgate.console.errors import ConsoleError

#: SDK retries for connection errors, 408/409/429 and 5xx; small so a dead server is reported fast
MAX_RETRIES = 2
TIMEOUT_SECONDS = 600.0


@dataclass(frozen=True)
class Connection:
    base_url: str
    api_key: str
    #: the base URL was given with --base-url (so a resume hint must repeat it)
    explicit_url: bool = False

    def client(self) -> OpenAI:
        return OpenAI(
            base_url=self.base_url,
            api_key=self.api_key,
            max_retries=MAX_RETRIES,
            timeout=TIMEOUT_SECONDS,
        )


def resolve(base_url: str | None, api_key: str | None) -> Connection:
    """The connection from the flags, falling back to the `openai` SDK's environment variables."""
    url = base_url or os.environ.get("OPENAI_BASE_URL")
    key = api_key or os.environ.get("OPENAI_API_KEY")
    missing = [
        f"{flag} (or {env})"
        for flag, env, value in (
            ("--base-url", "OPENAI_BASE_URL", url),
            ("--api-key", "OPENAI_API_KEY", key),
        )
        if not value
    ]
    if missing or not url or not key:
        raise ConsoleError(
            f"no server given: pass {' and '.join(missing)}, "
            "e.g. OPENAI_BASE_URL=http://127.0.0.1:8000/v1 OPENAI_API_KEY=sk-local"
        )
    return Connection(url.rstrip("/"), key, explicit_url=bool(base_url))
