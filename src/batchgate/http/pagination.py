"""OpenAI's cursor page: `{"object": "list", "data", "first_id", "last_id", "has_more"}`.

The SDK reads only `data` and `has_more`, then asks for `after=<last id>`; `has_more` must be
exact or it fetches one extra, empty page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel

T = TypeVar("T", bound=BaseModel)


class ListResponse(BaseModel, Generic[T]):
    object: Literal["list"] = "list"
    data: list[T]
    first_id: str | None
    last_id: str | None
    has_more: bool


def page(items: Sequence[T], *, limit: int, ids: Sequence[str]) -> ListResponse[T]:
    """`items` were fetched with `limit + 1`, so one extra row tells whether more exist."""
    data = list(items[:limit])
    return ListResponse[T](
        data=data,
        first_id=ids[0] if data else None,
        last_id=ids[len(data) - 1] if data else None,
        has_more=len(items) > limit,
    )
