"""Model routing: which upstream serves a requested model, and under which model name.

Resolution order: strip one suffix (`gpt-4o:batch` -> `gpt-4o`), follow aliases, take the first
route whose `match` fits, else the default upstream (`BATCHGATE_UPSTREAM_URL`), else nothing.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from batchgate.errors import ConfigurationError

DEFAULT_UPSTREAM = "default"
MAX_ALIAS_HOPS = 5


@dataclass(frozen=True)
class Upstream:
    """An OpenAI-compatible provider; `base_url` is what you would pass to the OpenAI SDK."""

    name: str
    base_url: str
    api_key: str | None = field(default=None, repr=False)
    max_concurrency: int = 64
    timeout_seconds: float = 600.0


@dataclass(frozen=True)
class Route:
    """Where one requested model goes: the upstream and the model name to send it."""

    upstream: Upstream
    model: str


@dataclass(frozen=True)
class RouteRule:
    """One `routes:` entry: an exact name or fnmatch glob, its upstream, an optional rename."""

    match: str
    upstream: Upstream
    model: str | None = None


class Router:
    """Resolves client model names to routes; immutable after construction, safe to share."""

    def __init__(
        self,
        *,
        rules: Sequence[RouteRule] = (),
        default: Upstream | None = None,
        aliases: Mapping[str, str] | None = None,
        strip_suffixes: Sequence[str] = (":batch",),
        upstreams: Iterable[Upstream] = (),
    ) -> None:
        # Exact names become regexes too (resolve() is memoised); translate() is case-sensitive.
        self._rules = [(re.compile(fnmatch.translate(rule.match)).match, rule) for rule in rules]
        self._default = default
        self._aliases = _flatten_aliases(aliases or {})
        self._suffixes = tuple(suffix for suffix in strip_suffixes if suffix)
        everything = [*([default] if default else []), *upstreams, *(r.upstream for r in rules)]
        self._upstreams = tuple(dict.fromkeys(everything))
        # Model names come from clients: a bounded LRU so junk names cannot grow the memo.
        self._cached = lru_cache(maxsize=4096)(self._resolve)

    @property
    def upstreams(self) -> tuple[Upstream, ...]:
        """Every configured upstream (the default first), each once."""
        return self._upstreams

    def resolve(self, model: str) -> Route | None:
        """The route for a client's model name, or None when no upstream serves it."""
        return self._cached(model)

    def _resolve(self, model: str) -> Route | None:
        for suffix in self._suffixes:
            if model.endswith(suffix) and len(model) > len(suffix):
                model = model[: -len(suffix)]
                break
        model = self._aliases.get(model, model)
        for match, rule in self._rules:
            if match(model):
                return Route(rule.upstream, rule.model or model)
        return Route(self._default, model) if self._default else None


def _flatten_aliases(aliases: Mapping[str, str]) -> dict[str, str]:
    """Alias -> final name, so a lookup is one dict access; rejects cycles and long chains."""
    flat: dict[str, str] = {}
    for start, name in aliases.items():
        chain = [start]
        while name in aliases:
            if name in chain:
                raise ConfigurationError(f"aliases: cycle {' -> '.join([*chain, name])}")
            chain.append(name)
            name = aliases[name]
            if len(chain) > MAX_ALIAS_HOPS:
                path = " -> ".join([*chain, name])
                raise ConfigurationError(f"aliases: {path} is over {MAX_ALIAS_HOPS} hops")
        flat[start] = name
    return flat


def _check_url(url: str) -> str:
    """The URL without a trailing slash; ValueError with a human reason if it is unusable."""
    parts = urlsplit(url.strip())
    if parts.username is not None or parts.password is not None:
        # Not echoed: the URL holds the very secret we are complaining about.
        raise ValueError("the URL must not contain credentials; use api_key_env instead")
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{url!r} must start with http:// or https://")
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:  # a port that is not a number in range
        port_ok = False
    if not parts.hostname or not port_ok or parts.query or parts.fragment:
        raise ValueError(f"{url!r} is not a base URL like http://host:8000/v1")
    return url.strip().rstrip("/")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)  # so a typo fails start-up


class _UpstreamSpec(_Spec):
    url: Annotated[str, AfterValidator(_check_url)]
    api_key_env: str | None = Field(default=None, min_length=1)
    max_concurrency: int | None = Field(default=None, ge=1)
    timeout_seconds: float | None = Field(default=None, gt=0, allow_inf_nan=False)


class _RouteSpec(_Spec):
    match: str = Field(min_length=1)
    upstream: str
    model: str | None = Field(default=None, min_length=1)


class _RoutesFile(_Spec):
    upstreams: dict[str, _UpstreamSpec] = {}
    aliases: dict[str, str] = {}
    strip_suffixes: list[str] = [":batch"]
    routes: list[_RouteSpec] = []


def load_router(
    *,
    default_url: str | None,
    default_api_key: str | None,
    routes_file: Path | None,
    default_timeout_seconds: float = 600.0,
    default_max_concurrency: int = 64,
    environ: Mapping[str, str] = os.environ,
) -> Router:
    """Build the Router from settings and the YAML routes file; ConfigurationError if invalid."""
    conc, secs = default_max_concurrency, default_timeout_seconds
    default = None
    if default_url:
        try:
            url = _check_url(default_url)
        except ValueError as exc:
            raise ConfigurationError(f"BATCHGATE_UPSTREAM_URL: {exc}") from None
        default = Upstream(DEFAULT_UPSTREAM, url, default_api_key or None, conc, secs)
    if routes_file is None:
        return Router(default=default)
    spec = _read(routes_file)
    upstreams = {DEFAULT_UPSTREAM: default} if default else {}
    try:
        for name, up in spec.upstreams.items():
            if name == DEFAULT_UPSTREAM:
                raise ConfigurationError("upstreams.default: reserved for BATCHGATE_UPSTREAM_URL")
            key = environ.get(up.api_key_env) if up.api_key_env else None
            if up.api_key_env and not key:
                problem = f"environment variable {up.api_key_env} is not set or empty"
                raise ConfigurationError(f"upstreams.{name}.api_key_env: {problem}")
            # `or` is safe: the spec rejects 0 for both numbers.
            upstreams[name] = Upstream(
                name, up.url, key, up.max_concurrency or conc, up.timeout_seconds or secs
            )
        rules = []
        for i, route in enumerate(spec.routes):
            if route.upstream not in upstreams:
                defined = ", ".join(sorted(upstreams)) or "none"
                problem = f"unknown upstream {route.upstream!r} (defined: {defined})"
                if route.upstream == DEFAULT_UPSTREAM:
                    problem = "'default' needs BATCHGATE_UPSTREAM_URL to be set"
                raise ConfigurationError(f"routes[{i}].upstream: {problem}")
            rules.append(RouteRule(route.match, upstreams[route.upstream], route.model))
        return Router(
            rules=rules,
            default=default,
            aliases=spec.aliases,
            strip_suffixes=spec.strip_suffixes,
            upstreams=upstreams.values(),
        )
    except ConfigurationError as exc:
        raise ConfigurationError(f"routes file {routes_file}: {exc}") from None


def _read(path: Path) -> _RoutesFile:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigurationError(f"routes file {path} does not exist") from None
    except (OSError, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigurationError(f"cannot read routes file {path}: {reason}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        message = f"routes file {path}: YAML syntax error{where}: {problem}"
        raise ConfigurationError(message) from None
    if not isinstance(raw, dict | None):
        kind = type(raw).__name__
        raise ConfigurationError(f"routes file {path}: the top level must be a mapping, not {kind}")
    try:
        return _RoutesFile.model_validate(raw or {})
    except ValidationError as exc:
        problems = "; ".join(_describe(error) for error in exc.errors())
        raise ConfigurationError(f"routes file {path}: {problems}") from None


def _describe(error: ErrorDetails) -> str:
    loc, kind = error["loc"], error["type"]
    path = loc[:-1] if kind in ("extra_forbidden", "missing") else loc
    dotted = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    where = dotted or "top level"
    if kind == "missing":
        return f"{where}: missing required key {loc[-1]!r}"
    if kind == "extra_forbidden":
        return f"{where}: unknown key {loc[-1]!r}"
    # A validator's ValueError is already a sentence; drop pydantic's "Value error, " prefix.
    return f"{where}: {error['ctx']['error'] if kind == 'value_error' else error['msg']}"
