"""Configuration: every setting is an environment variable prefixed `BATCHGATE_`.

Only the entry points (`cli`, `app`, `worker`) read `Settings`; everything below them takes
explicit arguments, so tests build what they need without patching the environment.
"""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from batchgate.errors import ConfigurationError

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MB = 1024 * 1024


def parse_duration(text: str) -> int:
    """`"24h"` -> 86400. Accepts a whole number followed by s, m, h or d."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a duration like 30s, 15m, 24h or 7d")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="BATCHGATE_", env_file=".env", extra="ignore", env_ignore_empty=True
    )

    # --- where state lives ---------------------------------------------------------------
    data_dir: Path = Path("data")
    #: SQLAlchemy async URL; default: SQLite file `batchgate.db` in the data dir.
    database_url: str | None = None
    #: With a Redis URL the API only enqueues and `batchgate worker` runs the jobs.
    redis_url: str | None = None
    #: `file:///path` or a plain path; default: `files/` in the data dir.
    storage_url: str | None = None
    #: Run `batchgate migrate` on start; default: yes for SQLite or a single process (no Redis).
    migrate_on_start: bool | None = None

    # --- tenants ---------------------------------------------------------------------------
    #: Bootstrap API keys; each is its own tenant. Comma-separated.
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)

    # --- upstreams -------------------------------------------------------------------------
    upstream_url: str | None = None
    upstream_api_key: SecretStr | None = None
    routes_file: Path | None = None
    upstream_timeout_seconds: float = 600.0
    upstream_max_concurrency: int = 64

    # --- limits ----------------------------------------------------------------------------
    max_batch_file_bytes: int = 200 * MB
    max_file_bytes: int = 512 * MB
    max_batch_lines: int = 50_000
    #: Completion windows clients may ask for; "24h" is always accepted.
    completion_windows: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["24h"])

    # --- engine ----------------------------------------------------------------------------
    max_attempts: int = 5
    retry_base_seconds: float = 1.0
    retry_max_seconds: float = 60.0
    lease_seconds: float = 30.0
    reconcile_interval_seconds: float = 5.0
    claim_batch_size: int = 256

    # --- webhooks --------------------------------------------------------------------------
    #: seconds a webhook endpoint has to answer one delivery attempt
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    #: give up on a delivery this long after its event (retries stop then)
    webhook_max_age_seconds: float = Field(default=86400.0, gt=0)
    #: the first retry's delay; later ones are 6x, 24x, 120x, 360x, then 720x it (5 s base:
    #: 5 s, 30 s, 2 m, 10 m, 30 m, then hourly)
    webhook_retry_base_seconds: float = Field(default=5.0, gt=0)
    #: deliveries in flight at once, per process
    webhook_max_concurrency: int = Field(default=16, ge=1)

    # --- observability ---------------------------------------------------------------------
    #: `batchgate worker` serves its own /metrics on this port (the API serves /metrics itself).
    worker_metrics_port: int | None = None

    # --- logging ---------------------------------------------------------------------------
    log_level: str = "INFO"
    log_json: bool = False

    _split_keys = field_validator("api_keys", mode="before")(_split_csv)
    _split_windows = field_validator("completion_windows", mode="before")(_split_csv)

    @field_validator("completion_windows")
    @classmethod
    def _check_windows(cls, windows: list[str]) -> list[str]:
        for window in windows:
            parse_duration(window)
        return windows if "24h" in windows else ["24h", *windows]

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'batchgate.db').resolve()}"

    @cached_property
    def resolved_storage_url(self) -> str:
        return self.storage_url or (self.data_dir / "files").resolve().as_uri()

    @property
    def should_migrate_on_start(self) -> bool:
        if self.migrate_on_start is not None:
            return self.migrate_on_start
        return self.embedded or self.resolved_database_url.startswith("sqlite")

    @property
    def embedded(self) -> bool:
        """True when jobs run inside the API process (no Redis configured)."""
        return self.redis_url is None

    def window_seconds(self) -> dict[str, int]:
        return {window: parse_duration(window) for window in self.completion_windows}


def load_settings() -> Settings:
    try:
        return Settings()
    except ValueError as exc:
        raise ConfigurationError(f"invalid BATCHGATE_* configuration: {exc}") from exc
