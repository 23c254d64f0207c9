"""Standard Webhooks signing, as OpenAI signs its webhooks and the `openai` SDK verifies them.

A secret is `whsec_` + base64 of 32 random bytes; the HMAC key is those bytes. A message is
signed as `v1,<base64(HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}"))>`, and
several signatures (during a secret rotation) go space-separated in one header.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

PREFIX = "whsec_"
_SECRET_BYTES = 32


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode()


def hint(secret: str) -> str:
    """Enough of a secret to tell two apart (`whsec_AbCd…`), far too little to sign with."""
    return secret[: len(PREFIX) + 4] + "…"


def _key(secret: str) -> bytes:
    if secret.startswith(PREFIX):
        return base64.b64decode(secret[len(PREFIX) :])
    return secret.encode()


def sign(secret: str, message_id: str, timestamp: int, body: str) -> str:
    signed = f"{message_id}.{timestamp}.{body}".encode()
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(
    signing_secrets: Sequence[str], message_id: str, timestamp: int, body: str
) -> str:
    """The `webhook-signature` value: one signature per secret still valid."""
    return " ".join(sign(secret, message_id, timestamp, body) for secret in signing_secrets)


def valid_secrets(
    current: str, previous: str | None, previous_until: int | None, now: int
) -> tuple[str, ...]:
    """The secrets to sign with: the current one, plus the previous one while it is honoured
    (a rotation that kept it for a while)."""
    if previous is not None and previous_until is not None and previous_until > now:
        return (current, previous)
    return (current,)
