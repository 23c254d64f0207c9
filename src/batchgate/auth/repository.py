"""Queries on tenants and API keys."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from batchgate.models import ApiKey, Tenant


class AuthRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def tenant_for_key_hash(self, key_hash: str) -> str | None:
        return await self.session.scalar(
            select(ApiKey.tenant_id).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
        )

    async def key_hash_exists(self, key_hash: str) -> bool:
        return (
            await self.session.scalar(select(ApiKey.id).where(ApiKey.key_hash == key_hash))
        ) is not None

    async def add(self, tenant: Tenant, key: ApiKey) -> None:
        # no ORM relationship orders these inserts, so the tenant row goes in first explicitly
        self.session.add(tenant)
        await self.session.flush()
        self.session.add(key)
        await self.session.flush()

    async def list_keys(self) -> Sequence[tuple[ApiKey, Tenant]]:
        rows = await self.session.execute(
            select(ApiKey, Tenant)
            .join(Tenant, Tenant.id == ApiKey.tenant_id)
            .order_by(ApiKey.created_at)
        )
        return [(key, tenant) for key, tenant in rows.tuples()]

    async def revoke(self, key_id_or_prefix: str, now: int) -> int:
        result = await self.session.execute(
            update(ApiKey)
            .where(
                (ApiKey.id == key_id_or_prefix) | (ApiKey.key_prefix == key_id_or_prefix),
                ApiKey.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
