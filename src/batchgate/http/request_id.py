"""`x-request-id: req_<32 hex>` on every response, as OpenAI sends (the SDK exposes it)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from batchgate.kit.ids import new_request_id


class RequestIdMiddleware:
    """Pure ASGI (not BaseHTTPMiddleware), so streamed bodies pass through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)
