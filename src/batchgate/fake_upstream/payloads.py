"""Response bodies for the fake upstream's generative and moderation endpoints.

Apart from ids and timestamps each body is a pure function of the request (see
:mod:`batchgate.fake_upstream.text`). Static parts are built once at import time because these
run on every benchmark request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

import orjson

from batchgate.fake_upstream.errors import invalid_type, missing
from batchgate.fake_upstream.text import (
    MAX_N,
    TOKENS_PER_MESSAGE,
    as_text,
    bounded_int,
    count_tokens,
    echo_reply,
    inputs,
    max_tokens_param,
    text_of,
)

#: Builds a fresh random hex id (without prefix).
NewId = Callable[[], str]
#: Turns (request body, model, id source) into the JSON-ready response body.
Builder = Callable[[dict[str, Any], str, NewId], dict[str, Any]]

MODEL_IDS: Final = (
    "gpt-4o-mini",
    "gpt-4o",
    "gpt-4.1-nano",
    "text-embedding-3-small",
    "omni-moderation-latest",
)
MODELS_BODY: Final = orjson.dumps(
    {
        "object": "list",
        "data": [
            {"id": m, "object": "model", "created": 1_700_000_000, "owned_by": "batchgate-fake"}
            for m in MODEL_IDS
        ],
    }
)


def chat_completion(body: dict[str, Any], model: str, new_id: NewId) -> dict[str, Any]:
    """``POST /v1/chat/completions``."""
    messages = body.get("messages")
    if messages is None:
        raise missing("messages")
    if not isinstance(messages, list) or not messages:
        raise invalid_type("messages", "a non-empty array", messages)
    prompt_tokens = 0
    last_user = ""
    for message in messages:
        if not isinstance(message, dict):
            raise invalid_type("messages", "an array of message objects", message)
        text = text_of(message.get("content"))
        prompt_tokens += TOKENS_PER_MESSAGE + len(text.split())
        if message.get("role") == "user":
            last_user = text
    n = bounded_int(body, "n", 1, 1, MAX_N)
    reply, completion, cut = echo_reply(
        last_user, max_tokens_param(body, "max_completion_tokens", "max_tokens")
    )
    finish = "length" if cut else "stop"
    choices = [
        {
            "index": i,
            "message": {"role": "assistant", "content": reply, "refusal": None},
            "logprobs": None,
            "finish_reason": finish,
        }
        for i in range(n)
    ]
    completion *= n
    return {
        "id": "chatcmpl-" + new_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": prompt_tokens + completion,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
        "system_fingerprint": "fp_fake",
    }


def completion(body: dict[str, Any], model: str, new_id: NewId) -> dict[str, Any]:
    """``POST /v1/completions``: ``n`` choices per prompt, indexed prompt-major like OpenAI."""
    prompts = inputs(body.get("prompt"), "prompt")
    n = bounded_int(body, "n", 1, 1, MAX_N)
    max_tokens = max_tokens_param(body, "max_tokens")
    prompt_tokens = completion_tokens = 0
    choices: list[dict[str, Any]] = []
    for prompt in prompts:
        prompt_tokens += count_tokens(prompt)
        text, tokens, cut = echo_reply(as_text(prompt), max_tokens)
        finish = "length" if cut else "stop"
        for _ in range(n):
            choices.append(
                {"text": text, "index": len(choices), "logprobs": None, "finish_reason": finish}
            )
            completion_tokens += tokens
    return {
        "id": "cmpl-" + new_id(),
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
        "system_fingerprint": "fp_fake",
    }


# Fields the Responses API always returns; shared across responses since they are only
# serialised, never mutated.
_RESPONSE_STATIC: Final[dict[str, Any]] = {
    "object": "response",
    "error": None,
    "incomplete_details": None,
    "metadata": {},
    "parallel_tool_calls": True,
    "temperature": 1.0,
    "top_p": 1.0,
    "tool_choice": "auto",
    "tools": [],
    "text": {"format": {"type": "text"}},
    "truncation": "disabled",
    "reasoning": {"effort": None, "summary": None},
    "previous_response_id": None,
    "background": False,
}


def response(body: dict[str, Any], model: str, new_id: NewId) -> dict[str, Any]:
    """``POST /v1/responses``; ``input`` is a string or a list of message items."""
    value = body.get("input")
    if value is None:
        raise missing("input")
    if isinstance(value, str):
        items: list[Any] = [{"role": "user", "content": value}]
    elif isinstance(value, list):
        items = value
    else:
        raise invalid_type("input", "a string or an array of input items", value)
    instructions = body.get("instructions")
    input_tokens = len(instructions.split()) if isinstance(instructions, str) else 0
    last_user = ""
    for item in items:
        if not isinstance(item, dict):
            raise invalid_type("input", "an array of input items", item)
        text = text_of(item.get("content"))
        input_tokens += TOKENS_PER_MESSAGE + len(text.split())
        if item.get("role") == "user":
            last_user = text
    text, output_tokens, cut = echo_reply(last_user, max_tokens_param(body, "max_output_tokens"))
    return {
        **_RESPONSE_STATIC,
        "id": "resp_" + new_id(),
        "created_at": int(time.time()),
        "status": "incomplete" if cut else "completed",
        "incomplete_details": {"reason": "max_output_tokens"} if cut else None,
        "instructions": instructions,
        "model": model,
        "output": [
            {
                "type": "message",
                "id": "msg_" + new_id(),
                "status": "incomplete" if cut else "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        ],
        "usage": {
            "input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": input_tokens + output_tokens,
        },
    }


_MODERATION_CATEGORIES: Final = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
_MODERATION_RESULT: Final[dict[str, Any]] = {
    "flagged": False,
    "categories": dict.fromkeys(_MODERATION_CATEGORIES, False),
    "category_scores": dict.fromkeys(_MODERATION_CATEGORIES, 0.0),
    "category_applied_input_types": {c: ["text"] for c in _MODERATION_CATEGORIES},
}


def moderation(body: dict[str, Any], model: str, new_id: NewId) -> dict[str, Any]:
    """``POST /v1/moderations``: never flags; one result per string input."""
    value = body.get("input")
    if value is None:
        raise missing("input")
    # A list of strings is a batch; a list of typed parts is one multimodal input.
    count = len(value) if isinstance(value, list) and all(isinstance(x, str) for x in value) else 1
    return {
        "id": "modr-" + new_id(),
        "model": model,
        "results": [_MODERATION_RESULT] * count,
    }
