"""A `Content-Disposition: attachment` header that is safe for any client-given filename."""

from __future__ import annotations

import re
from urllib.parse import quote

_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]")


def attachment(filename: str) -> str:
    # An ASCII fallback for old clients plus the exact name in RFC 5987 form; no quotes or
    # control characters can leak into the header either way.
    fallback = _UNSAFE.sub("_", filename) or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
