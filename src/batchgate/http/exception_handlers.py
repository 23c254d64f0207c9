"""The one place errors become responses: the OpenAI envelope, for every failure.

`{"error": {"message", "type", "param", "code"}}` — for our own errors, for unknown routes
(404) and wrong methods (405), for request validation (400 naming the parameter, never
FastAPI's 422 shape) and, as a last resort, for bugs (a bare 500 that reveals nothing).
Under `/ui` the same errors render as the dashboard's HTML page instead (`ui.render`), and
an authentication failure there is a redirect to the login page.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from batchgate.errors import (
    BatchgateError,
    InvalidRequest,
    MethodNotAllowed,
    PayloadTooLarge,
    RouteNotFound,
)
from batchgate.ui import render as ui_render

log = logging.getLogger(__name__)


def error_response(error: BatchgateError) -> JSONResponse:
    body = {
        "error": {
            "message": error.message,
            "type": error.error_type,
            "param": error.param,
            "code": error.code,
        }
    }
    headers = {"x-should-retry": "false"} if error.status_code < 500 else None
    return JSONResponse(body, status_code=error.status_code, headers=headers)


def render(request: Request, error: BatchgateError) -> Response:
    """The dashboard gets HTML; every other path gets the OpenAI envelope."""
    if ui_render.handles(request):
        return ui_render.error_page(request, error)
    return error_response(error)


def _param_name(loc: tuple[Any, ...]) -> str | None:
    # ("body", "metadata", "k") -> "metadata.k"; ("query", "limit") -> "limit"
    parts = [str(p) for p in loc[1:]] if loc and loc[0] in ("body", "query", "path") else []
    return ".".join(parts) or None


def validation_error(exc: RequestValidationError) -> InvalidRequest:
    """Translate pydantic's first complaint into OpenAI's words."""
    first = exc.errors()[0] if exc.errors() else {}
    kind, loc = first.get("type", ""), tuple(first.get("loc", ()))
    param = _param_name(loc)
    if kind == "json_invalid":
        return InvalidRequest(
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload.)"
        )
    if kind == "missing" and not param:  # no body at all: FastAPI reports loc ("body",)
        return InvalidRequest(
            "The request body is empty. (HINT: The OpenAI API expects a JSON payload.)"
        )
    if kind == "missing":
        return InvalidRequest(
            f"Missing required parameter: '{param}'.",
            param=param,
            code="missing_required_parameter",
        )
    if kind == "extra_forbidden":
        return InvalidRequest(f"Unrecognized request argument supplied: {param}", param=param)
    if kind == "model_attributes_type" and not param:
        return InvalidRequest("The request body must be a JSON object.")
    message = first.get("msg", "Invalid value")
    return InvalidRequest(
        f"Invalid value for '{param}': {message}.", param=param, code="invalid_value"
    )


def install(app: FastAPI) -> None:
    async def on_batchgate_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, BatchgateError)
        return render(request, exc)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return render(request, validation_error(exc))

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        method, path = request.method, request.url.path
        if exc.status_code == 404:
            return render(request, RouteNotFound(method, path))
        if exc.status_code == 405:
            return render(request, MethodNotAllowed(method, path))
        if exc.status_code == 413:
            return render(request, PayloadTooLarge())
        error = BatchgateError(str(exc.detail))
        error.status_code = exc.status_code  # type: ignore[misc]
        return render(request, error)

    async def on_unstorable(request: Request, exc: Exception) -> Response:
        # the database refused a value the client sent (a NUL character in a JSON string,
        # say): the client's mistake, so a 400, not a 500 the SDK would retry
        log.info("refused an unstorable value on %s %s", request.method, request.url.path)
        return render(
            request,
            InvalidRequest(
                "A value in the request cannot be stored (for example, it contains a NUL "
                "character)."
            ),
        )

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return render(request, BatchgateError())

    app.add_exception_handler(BatchgateError, on_batchgate_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(DataError, on_unstorable)
    app.add_exception_handler(Exception, on_unexpected)
