"""API key material: generation and hashing. Keys are shown once and stored only as digests."""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "bg-"


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    # A fast digest is right here: keys carry 256 random bits, so there is nothing to brute-force.
    return hashlib.sha256(key.encode()).hexdigest()


def display_prefix(key: str) -> str:
    return key[:10]
