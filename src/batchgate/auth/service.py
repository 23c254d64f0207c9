"""Authenticating requests and managing keys (the `batchgate keys` commands)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from batchgate.auth.keys import display_prefix, generate_key, hash_key
from batchgate.auth.repository import AuthRepository
from batchgate.db.session import session_scope
from batchgate.errors import AuthenticationFailed
from batchgate.kit.clock import now_s
from batchgate.kit.ids import new_tenant_id
from batchgate.models import ApiKey, Tenant

_MISSING_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header "
    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
)


@dataclass(frozen=True)
class CreatedKey:
    key: str
    key_id: str
    tenant_id: str


async def authenticate(session: AsyncSession, authorization: str | None) -> str:
    """The tenant id behind an `Authorization: Bearer …` header, or AuthenticationFailed."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationFailed(_MISSING_KEY)
    tenant_id = await AuthRepository(session).tenant_for_key_hash(hash_key(token))
    if tenant_id is None:
        raise AuthenticationFailed()
    return tenant_id


async def authenticate_key_hash(session: AsyncSession, key_hash: str | None) -> str:
    """The tenant id behind a key's SHA-256 digest (the dashboard's cookie), or
    AuthenticationFailed. A revoked key's digest no longer authenticates."""
    digest = (key_hash or "").strip().lower()
    if len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
        raise AuthenticationFailed()
    tenant_id = await AuthRepository(session).tenant_for_key_hash(digest)
    if tenant_id is None:
        raise AuthenticationFailed()
    return tenant_id


def _new_key_rows(key: str, name: str, tenant_id: str, tenant_name: str) -> tuple[Tenant, ApiKey]:
    now = now_s()
    key_hash = hash_key(key)
    tenant = Tenant(id=tenant_id, name=tenant_name, created_at=now)
    api_key = ApiKey(
        id=f"key_{key_hash[:24]}",
        tenant_id=tenant_id,
        name=name,
        key_hash=key_hash,
        key_prefix=display_prefix(key),
        created_at=now,
    )
    return tenant, api_key


async def create_key(session: AsyncSession, name: str) -> CreatedKey:
    """A new tenant with one new key. The key is returned once and stored hashed."""
    key = generate_key()
    tenant, api_key = _new_key_rows(key, name, new_tenant_id(), name)
    await AuthRepository(session).add(tenant, api_key)
    return CreatedKey(key=key, key_id=api_key.id, tenant_id=tenant.id)


async def list_keys(session: AsyncSession) -> Sequence[tuple[ApiKey, Tenant]]:
    return await AuthRepository(session).list_keys()


async def revoke_key(session: AsyncSession, key_id_or_prefix: str) -> int:
    return await AuthRepository(session).revoke(key_id_or_prefix, now_s())


async def ensure_bootstrap_keys(
    sessionmaker: async_sessionmaker[AsyncSession], keys: Sequence[str]
) -> None:
    """Give each `BATCHGATE_API_KEYS` key its own tenant, once.

    The tenant id is derived from the key, so every replica and every restart agrees on it.
    """
    for key in keys:
        digest = hashlib.sha256(f"tenant:{key}".encode()).hexdigest()[:32]
        tenant, api_key = _new_key_rows(key, "bootstrap", f"tenant_{digest}", "bootstrap")
        try:
            async with session_scope(sessionmaker) as session:
                repo = AuthRepository(session)
                if not await repo.key_hash_exists(api_key.key_hash):
                    await repo.add(tenant, api_key)
        except IntegrityError:
            # another replica inserted it first; anything else is a real error
            async with session_scope(sessionmaker) as session:
                if not await AuthRepository(session).key_hash_exists(api_key.key_hash):
                    raise
