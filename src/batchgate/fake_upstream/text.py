"""Request-input helpers shared by the fake upstream's payload builders.

Content and token counts are pure functions of the request so tests can predict them: the reply
is ``"echo: "`` plus the first 40 characters of the prompt, and a "token" is a whitespace-separated
word.
"""

from __future__ import annotations

from typing import Any, Final

from batchgate.fake_upstream.errors import BadRequest, invalid_type, missing

ECHO_PREFIX: Final = "echo: "
ECHO_CHARS: Final = 40
#: Per-message overhead added to prompt token counts, like OpenAI's chat format overhead.
TOKENS_PER_MESSAGE: Final = 4
MAX_N: Final = 128


def text_of(content: Any) -> str:
    """Plain text of a message ``content``: a string or a list of typed parts with ``text``."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return ""


def bounded_int(body: dict[str, Any], name: str, default: int, lo: int, hi: int) -> int:
    """Optional integer parameter ``name`` in ``[lo, hi]``; otherwise the API's 400."""
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid_type(name, "an integer", value)
    if not lo <= value <= hi:
        raise BadRequest(f"Invalid '{name}': must be between {lo} and {hi}.", name, "invalid_value")
    return value


def echo_reply(prompt_text: str, max_tokens: int | None) -> tuple[str, int, bool]:
    """(reply, completion tokens, truncated) for a prompt; truncation mimics a length stop."""
    reply = ECHO_PREFIX + prompt_text[:ECHO_CHARS]
    words = reply.split()
    if max_tokens is not None and len(words) > max_tokens:
        return " ".join(words[:max_tokens]), max_tokens, True
    return reply, len(words), False


def max_tokens_param(body: dict[str, Any], *names: str) -> int | None:
    """The first of ``names`` that is set (APIs renamed ``max_tokens`` over time), or None."""
    for name in names:
        if body.get(name) is not None:
            return bounded_int(body, name, 0, 1, 1 << 30)
    return None


def inputs(value: Any, param: str) -> list[str | list[int]]:
    """Normalise an ``input``/``prompt``: a string, a token list, or a list of either."""
    if value is None:
        raise missing(param)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value:
        if all(isinstance(x, int) for x in value):
            return [value]
        if all(isinstance(x, str | list) for x in value):
            return list(value)
    raise invalid_type(param, "a string, an array of strings or an array of token arrays", value)


def count_tokens(item: str | list[int]) -> int:
    """Fake token count: words of a string, or the length of a token array."""
    return len(item.split()) if isinstance(item, str) else len(item)


def as_text(item: str | list[int]) -> str:
    """Something echoable for a prompt that may be a token array."""
    return item if isinstance(item, str) else " ".join(map(str, item[:20]))
