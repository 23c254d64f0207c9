"""The error tree. Every error a client can see is one of these, rendered in one place.

```
BatchgateError                      500 api_error (never shown with internals)
├── InvalidRequest                  400 invalid_request_error
│   ├── InvalidFileFormat           400 (a batch upload that is not JSONL; names the line)
│   └── BatchNotCancellable         400 (already terminal; not 409, which the SDK retries)
├── AuthenticationFailed            401 invalid_request_error / invalid_api_key
├── NotFound                        404 invalid_request_error
│   ├── FileNotFound
│   ├── BatchNotFound
│   ├── WebhookEndpointNotFound
│   └── RouteNotFound               (unknown URL)
├── MethodNotAllowed                405
├── PayloadTooLarge                 413
└── ServiceUnavailable              503
```

The docstring of each class is its default message. Rendering lives in
`batchgate.http.exception_handlers`; nothing else builds an error response.
"""

from __future__ import annotations

from typing import ClassVar


class BatchgateError(Exception):
    """The server failed to process the request."""

    status_code: ClassVar[int] = 500
    error_type: ClassVar[str] = "api_error"
    default_code: ClassVar[str | None] = None

    def __init__(
        self, message: str | None = None, *, param: str | None = None, code: str | None = None
    ) -> None:
        self.message = message or (self.__doc__ or "").strip()
        self.param = param
        self.code = code if code is not None else self.default_code
        super().__init__(self.message)


class InvalidRequest(BatchgateError):
    """The request is invalid."""

    status_code = 400
    error_type = "invalid_request_error"


class InvalidFileFormat(InvalidRequest):
    """Invalid file format for Batch API. Must be .jsonl"""

    def __init__(self, message: str | None = None, *, line: int | None = None) -> None:
        self.line = line
        super().__init__(message, param="file", code="invalid_file_format")


class BatchNotCancellable(InvalidRequest):
    """The batch cannot be cancelled in its current status."""

    default_code = "batch_not_cancellable"


class AuthenticationFailed(BatchgateError):
    """Incorrect API key provided. Pass a valid key as 'Authorization: Bearer <key>'."""

    status_code = 401
    error_type = "invalid_request_error"
    default_code = "invalid_api_key"


class NotFound(BatchgateError):
    """The requested object does not exist."""

    status_code = 404
    error_type = "invalid_request_error"


class FileNotFound(NotFound):
    """No such File object."""

    def __init__(self, file_id: str, *, param: str = "id") -> None:
        super().__init__(f"No such File object: {file_id}", param=param)


class BatchNotFound(NotFound):
    """No such Batch object."""

    def __init__(self, batch_id: str) -> None:
        super().__init__(f"No such Batch object: {batch_id}", param="id")


class WebhookEndpointNotFound(NotFound):
    """No such WebhookEndpoint object."""

    def __init__(self, endpoint_id: str) -> None:
        super().__init__(f"No such WebhookEndpoint object: {endpoint_id}", param="id")


class RouteNotFound(NotFound):
    """Invalid URL."""

    def __init__(self, method: str, path: str) -> None:
        super().__init__(f"Invalid URL ({method} {path})")


class MethodNotAllowed(BatchgateError):
    """Method not allowed."""

    status_code = 405
    error_type = "invalid_request_error"

    def __init__(self, method: str, path: str) -> None:
        super().__init__(f"Method {method} is not allowed for {path}")


class PayloadTooLarge(BatchgateError):
    """The request body is too large."""

    status_code = 413
    error_type = "invalid_request_error"
    default_code = "file_too_large"


class ServiceUnavailable(BatchgateError):
    """The service is not ready."""

    status_code = 503
    error_type = "server_error"


class ConfigurationError(Exception):
    """The server's configuration is invalid (raised at start-up, never shown to API clients)."""
