from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from batchgate.errors import ConfigurationError
from batchgate.upstream import DEFAULT_UPSTREAM, Route, Router, RouteRule, Upstream, load_router

SECRET = "sk-routing-secret-0123456789"
ENV = {"VLLM_API_KEY": SECRET, "OPENAI_API_KEY": "sk-openai", "EMPTY_KEY": ""}

FULL = """
upstreams:
  vllm:
    url: http://vllm:8000/v1/
    api_key_env: VLLM_API_KEY
    max_concurrency: 128
    timeout_seconds: 300
  openai:
    url: https://api.openai.com/v1
    api_key_env: OPENAI_API_KEY
  local:
    url: http://ollama:11434/v1
aliases:
  fast: llama-3.1-8b-instruct
  quick: fast
strip_suffixes: [":batch", "-batch"]
routes:
  - match: "llama-3.1-8b-instruct"
    upstream: vllm
    model: meta-llama/Llama-3.1-8B-Instruct
  - match: "gpt-*"
    upstream: openai
  - match: "gpt-4o"
    upstream: local
  - match: "qwen?-[0-9]b"
    upstream: local
  - match: "fallback-*"
    upstream: default
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "routes.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load(path: Path | None, *, default_url: str | None = "http://fallback:9000/v1") -> Router:
    return load_router(
        default_url=default_url,
        default_api_key="sk-default",
        routes_file=path,
        default_timeout_seconds=42.0,
        default_max_concurrency=7,
        environ=ENV,
    )


def config_error(tmp_path: Path, text: str, **kwargs: str | None) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigurationError) as info:
        load(path, **kwargs)
    message = str(info.value)
    assert str(path) in message
    return message


@pytest.fixture
def router(tmp_path: Path) -> Router:
    return load(write(tmp_path, FULL))


def test_upstreams_are_built_from_the_file_and_settings(router: Router) -> None:
    by_name = {upstream.name: upstream for upstream in router.upstreams}
    assert list(by_name) == ["default", "vllm", "openai", "local"]
    assert by_name["vllm"] == Upstream("vllm", "http://vllm:8000/v1", SECRET, 128, 300.0)
    assert by_name["openai"].api_key == "sk-openai"
    assert by_name["local"] == Upstream("local", "http://ollama:11434/v1", None, 7, 42.0)
    assert by_name["default"] == Upstream(
        DEFAULT_UPSTREAM, "http://fallback:9000/v1", "sk-default", 7, 42.0
    )


def test_exact_route_renames_the_model(router: Router) -> None:
    route = router.resolve("llama-3.1-8b-instruct")
    assert route is not None
    assert route.upstream.name == "vllm"
    assert route.model == "meta-llama/Llama-3.1-8B-Instruct"


def test_glob_route_keeps_the_requested_name(router: Router) -> None:
    route = router.resolve("gpt-4o-mini")
    assert route is not None
    assert (route.upstream.name, route.model) == ("openai", "gpt-4o-mini")


def test_first_match_wins(router: Router) -> None:
    # "gpt-4o" also matches the later exact route to "local"; the earlier glob takes it.
    route = router.resolve("gpt-4o")
    assert route is not None
    assert route.upstream.name == "openai"


@pytest.mark.parametrize(
    ("model", "upstream"),
    [("qwen2-7b", "local"), ("qwen22-7b", "default"), ("qwen2-xb", "default")],
)
def test_glob_question_mark_and_class(router: Router, model: str, upstream: str) -> None:
    route = router.resolve(model)
    assert route is not None
    assert route.upstream.name == upstream


def test_globs_are_case_sensitive(router: Router) -> None:
    route = router.resolve("GPT-4o")
    assert route is not None
    assert route.upstream.name == "default"


def test_suffix_is_stripped_before_matching(router: Router) -> None:
    route = router.resolve("gpt-4o:batch")
    assert route is not None
    assert (route.upstream.name, route.model) == ("openai", "gpt-4o")
    route = router.resolve("gpt-4o-batch")
    assert route is not None
    assert route.model == "gpt-4o"


def test_only_one_suffix_is_stripped_and_never_the_whole_name(router: Router) -> None:
    route = router.resolve("gpt-4o-batch:batch")
    assert route is not None
    assert route.model == "gpt-4o-batch"
    route = router.resolve(":batch")
    assert route is not None
    assert route.model == ":batch"


def test_alias_chain_is_followed_after_stripping(router: Router) -> None:
    route = router.resolve("quick:batch")
    assert route is not None
    assert route.upstream.name == "vllm"
    assert route.model == "meta-llama/Llama-3.1-8B-Instruct"


def test_unmatched_model_goes_to_default(router: Router) -> None:
    route = router.resolve("mistral-7b")
    assert route is not None
    assert (route.upstream.name, route.model) == ("default", "mistral-7b")
    route = router.resolve("fallback-x")
    assert route is not None
    assert route.upstream.name == "default"


def test_without_default_unmatched_model_resolves_to_none(tmp_path: Path) -> None:
    text = "upstreams: {a: {url: 'http://a/v1'}}\nroutes: [{match: 'x-*', upstream: a}]\n"
    router = load(write(tmp_path, text), default_url=None)
    assert router.resolve("y") is None
    assert router.resolve("x-1") is not None


def test_nothing_configured_resolves_nothing() -> None:
    router = load(None, default_url=None)
    assert router.resolve("gpt-4o") is None
    assert router.upstreams == ()


def test_default_only(tmp_path: Path) -> None:
    router = load_router(default_url="http://h:1/v1/", default_api_key="", routes_file=None)
    route = router.resolve("anything:batch")
    assert route is not None
    assert route.upstream == Upstream("default", "http://h:1/v1", None, 64, 600.0)
    assert route.model == "anything"


def test_strip_suffixes_can_be_disabled(tmp_path: Path) -> None:
    router = load(write(tmp_path, "strip_suffixes: []\n"))
    route = router.resolve("m:batch")
    assert route is not None
    assert route.model == "m:batch"


def test_empty_file_is_a_router_with_only_the_default(tmp_path: Path) -> None:
    router = load(write(tmp_path, "# nothing yet\n"))
    assert [upstream.name for upstream in router.upstreams] == ["default"]


def test_resolution_is_memoised_but_stays_correct() -> None:
    up = Upstream("u", "http://u/v1")
    router = Router(rules=[RouteRule("a*", up, "renamed")])
    first = router.resolve("abc")
    assert first == Route(up, "renamed")
    assert router.resolve("abc") is first
    assert router.resolve("zzz") is None


def test_repr_never_shows_the_api_key(router: Router) -> None:
    text = repr(router.upstreams) + repr(router.resolve("fast"))
    assert "vllm" in text
    assert SECRET not in text


# --- configuration errors ---------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"routes file .*nope\.yaml does not exist"):
        load(tmp_path / "nope.yaml")


def test_unreadable_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read routes file"):
        load(tmp_path)  # a directory


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    message = config_error(tmp_path, "upstreams:\n  a:\n    url: [unclosed\n")
    assert "YAML syntax error at line 4" in message


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    assert "top level must be a mapping, not list" in config_error(tmp_path, "- a\n- b\n")


def test_unknown_top_level_key(tmp_path: Path) -> None:
    message = config_error(tmp_path, "route: []\n")
    assert "top level: unknown key 'route'" in message


def test_unknown_upstream_key(tmp_path: Path) -> None:
    message = config_error(tmp_path, "upstreams:\n  vllm:\n    urll: http://a/v1\n")
    assert "upstreams.vllm: unknown key 'urll'" in message
    assert "upstreams.vllm: missing required key 'url'" in message


def test_unknown_route_key(tmp_path: Path) -> None:
    text = "upstreams: {a: {url: 'http://a'}}\nroutes:\n  - {match: x, upstream: a, modle: y}\n"
    assert "routes[0]: unknown key 'modle'" in config_error(tmp_path, text)


@pytest.mark.parametrize(
    ("setting", "problem"),
    [
        ("max_concurrency: 0", "max_concurrency: Input should be greater than or equal to 1"),
        ("timeout_seconds: .inf", "timeout_seconds: Input should be a finite number"),
        ("timeout_seconds: fast", "timeout_seconds: Input should be a valid number"),
    ],
)
def test_bad_values(tmp_path: Path, setting: str, problem: str) -> None:
    message = config_error(tmp_path, f"upstreams:\n  a:\n    url: http://a\n    {setting}\n")
    assert f"upstreams.a.{problem}" in message


def test_unknown_upstream_in_route(tmp_path: Path) -> None:
    text = "upstreams: {vllm: {url: 'http://a'}}\nroutes:\n  - {match: x, upstream: vllm}\n"
    text += "  - {match: y, upstream: vlm}\n"
    message = config_error(tmp_path, text)
    assert "routes[1].upstream: unknown upstream 'vlm' (defined: default, vllm)" in message


def test_default_route_needs_a_default_url(tmp_path: Path) -> None:
    message = config_error(tmp_path, "routes: [{match: x, upstream: default}]\n", default_url=None)
    assert "routes[0].upstream: 'default' needs BATCHGATE_UPSTREAM_URL" in message


def test_default_is_a_reserved_upstream_name(tmp_path: Path) -> None:
    message = config_error(tmp_path, "upstreams: {default: {url: 'http://a'}}\n")
    assert "upstreams.default: reserved for BATCHGATE_UPSTREAM_URL" in message


@pytest.mark.parametrize("var", ["NOT_SET_ANYWHERE", "EMPTY_KEY"])
def test_missing_env_var_for_api_key(tmp_path: Path, var: str) -> None:
    text = f"upstreams:\n  openai:\n    url: https://api.openai.com/v1\n    api_key_env: {var}\n"
    message = config_error(tmp_path, text)
    assert f"upstreams.openai.api_key_env: environment variable {var} is not set" in message


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://host/v1", "must start with http:// or https://"),
        ("vllm:8000/v1", "must start with http:// or https://"),
        ("http:///v1", "is not a base URL"),
        ("http://h:99999/v1", "is not a base URL"),
        ("http://h/v1?x=1", "is not a base URL"),
    ],
)
def test_bad_url(tmp_path: Path, url: str, problem: str) -> None:
    message = config_error(tmp_path, f"upstreams:\n  a:\n    url: '{url}'\n")
    assert f"upstreams.a.url: {url!r} {problem}" in message


def test_url_with_credentials_is_rejected_without_echoing_them(tmp_path: Path) -> None:
    message = config_error(tmp_path, "upstreams: {a: {url: 'https://bob:hunter2@h/v1'}}\n")
    assert "must not contain credentials" in message
    assert "hunter2" not in message


def test_bad_default_url() -> None:
    with pytest.raises(ConfigurationError, match="BATCHGATE_UPSTREAM_URL: 'localhost:8000' must"):
        load(None, default_url="localhost:8000")


def test_alias_cycle(tmp_path: Path) -> None:
    message = config_error(tmp_path, "aliases: {a: b, b: c, c: a}\n")
    assert "aliases: cycle a -> b -> c -> a" in message


def test_alias_to_itself(tmp_path: Path) -> None:
    assert "aliases: cycle a -> a" in config_error(tmp_path, "aliases: {a: a}\n")


def test_alias_chain_of_five_hops_is_allowed_six_is_not(tmp_path: Path) -> None:
    five = "aliases: {a: b, b: c, c: d, d: e, e: f}\n"
    route = load(write(tmp_path, five)).resolve("a")
    assert route is not None
    assert route.model == "f"
    message = config_error(tmp_path, "aliases: {a: b, b: c, c: d, d: e, e: f, f: g}\n")
    assert "aliases: a -> b -> c -> d -> e -> f -> g is over 5 hops" in message
