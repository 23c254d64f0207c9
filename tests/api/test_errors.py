"""Errors as OpenAI sends them: the envelope, statuses, request ids and the SDK's exceptions."""

from __future__ import annotations

import re

import httpx
import openai
import pytest

from support.api import assert_error, new_client, new_key, origin, raw_http, upload_batch_input
from support.stacks import Stack

REQUEST_ID = re.compile(r"^req_[0-9a-f]{32}$")


class TestEnvelope:
    @pytest.mark.parametrize(
        ("method", "path"),
        [("GET", "/v1/nope"), ("POST", "/v1/batches/x/y/z"), ("DELETE", "/v1")],
    )
    def test_unknown_route_is_404(self, stack: Stack, method: str, path: str) -> None:
        with raw_http(stack, new_key(stack)) as http:
            response = http.request(method, origin(stack) + path)
        assert_error(response, 404, param=None, code=None)
        assert response.json()["error"]["message"] == f"Invalid URL ({method} {path})"

    def test_unknown_route_without_a_key_is_still_404(self, stack: Stack) -> None:
        with raw_http(stack, None) as http:
            response = http.get("nope")
        assert_error(response, 404, param=None, code=None)

    @pytest.mark.parametrize(
        ("method", "path"),
        [("PUT", "/v1/files"), ("DELETE", "/v1/batches"), ("PATCH", "/v1/batches/batch_x")],
    )
    def test_wrong_method_is_405(self, stack: Stack, method: str, path: str) -> None:
        with raw_http(stack, new_key(stack)) as http:
            response = http.request(method, origin(stack) + path)
        assert_error(response, 405, param=None, contains=[method, path])

    @pytest.mark.parametrize(
        ("path", "params"),
        [
            ("batches", {"limit": "abc"}),
            ("batches", {"limit": "1.5"}),
            ("files", {"order": "sideways"}),
            ("files", {"limit": "-1"}),
        ],
    )
    def test_query_validation_is_400_not_422(
        self, stack: Stack, path: str, params: dict[str, str]
    ) -> None:
        with raw_http(stack, new_key(stack)) as http:
            response = http.get(path, params=params)
        (name,) = params
        assert_error(response, 400, param=name, contains=[f"'{name}'"])

    def test_body_validation_is_400_not_422(self, stack: Stack) -> None:
        with raw_http(stack, new_key(stack)) as http:
            response = http.post("batches", json={"input_file_id": ["a"]})
        assert_error(response, 400)

    def test_4xx_tells_the_sdk_not_to_retry(self, stack: Stack) -> None:
        with raw_http(stack, new_key(stack)) as http:
            for response in (http.get("nope"), http.get("files/file-x"), http.post("batches")):
                assert 400 <= response.status_code < 500
                assert response.headers["x-should-retry"] == "false"


class TestLimits:
    @pytest.mark.parametrize(("path", "limit"), [("batches", 0), ("batches", 101), ("files", 0)])
    def test_limit_out_of_range(self, stack: Stack, path: str, limit: int) -> None:
        with raw_http(stack, new_key(stack)) as http:
            response = http.get(path, params={"limit": limit})
        assert_error(response, 400, param="limit", contains=["'limit'"])

    def test_files_limit_over_10000(self, stack: Stack) -> None:
        client = new_client(stack)
        with pytest.raises(openai.BadRequestError) as caught:
            client.files.list(limit=10_001)
        assert caught.value.param == "limit"

    @pytest.mark.parametrize(("path", "limit"), [("batches", 1), ("batches", 100), ("files", 1)])
    def test_limit_bounds_are_inclusive(self, stack: Stack, path: str, limit: int) -> None:
        with raw_http(stack, new_key(stack)) as http:
            response = http.get(path, params={"limit": limit})
        assert response.status_code == 200
        assert response.json()["data"] == []

    def test_sdk_limit_zero(self, stack: Stack) -> None:
        client = new_client(stack)
        with pytest.raises(openai.BadRequestError) as caught:
            client.batches.list(limit=0)
        assert caught.value.param == "limit"
        assert caught.value.status_code == 400


class TestAuthentication:
    def test_missing_key(self, stack: Stack) -> None:
        with raw_http(stack, None) as http:
            response = http.get("files")
        error = assert_error(response, 401, param=None)
        assert "API key" in error["message"]

    @pytest.mark.parametrize(
        "header", ["Bearer", "bearer", "Basic dXNlcjpwYXNz", "sk-test-no-scheme", "Token abc"]
    )
    def test_malformed_authorization_header(self, stack: Stack, header: str) -> None:
        with raw_http(stack, None) as http:
            response = http.get("batches", headers={"Authorization": header})
        assert_error(response, 401, param=None)
        assert "dXNlcjpwYXNz" not in response.text

    def test_wrong_key(self, stack: Stack) -> None:
        secret = "sk-wrong-0123456789abcdef0123456789abcdef"
        with raw_http(stack, secret) as http:
            response = http.get("batches")
        assert_error(response, 401, param=None, code="invalid_api_key")
        assert "0123456789abcdef" not in response.text

    def test_sdk_wrong_key(self, stack: Stack) -> None:
        secret = "sk-wrong-fedcba9876543210fedcba9876543210"
        client = new_client(stack, secret)
        with pytest.raises(openai.AuthenticationError) as caught:
            client.files.list()
        error = caught.value
        assert error.status_code == 401
        assert error.code == "invalid_api_key"
        assert error.request_id is not None
        assert REQUEST_ID.match(error.request_id)
        assert "fedcba9876543210" not in str(error)
        assert "fedcba9876543210" not in error.response.text

    def test_sdk_without_a_key(self, stack: Stack) -> None:
        client = new_client(stack, "placeholder")
        with pytest.raises(openai.AuthenticationError) as caught:
            client.batches.list(extra_headers={"Authorization": ""})
        assert caught.value.status_code == 401
        assert "API key" in caught.value.message

    def test_auth_is_checked_before_input(self, stack: Stack) -> None:
        with raw_http(stack, None) as http:
            response = http.post("batches", content=b"{not json")
        assert_error(response, 401)


class TestRequestId:
    def _check(self, response: httpx.Response) -> str:
        request_id: str | None = response.headers.get("x-request-id")
        assert request_id is not None, response.headers
        assert REQUEST_ID.match(request_id), request_id
        return request_id

    def test_on_success_and_error_responses(self, stack: Stack) -> None:
        key = new_key(stack)
        upload = upload_batch_input(new_client(stack, key))
        with raw_http(stack, key) as http:
            responses = [
                http.get(origin(stack) + "/healthz"),
                http.get("files"),
                http.get(f"files/{upload.id}"),
                http.get(f"files/{upload.id}/content"),  # streamed
                http.get("batches"),
                http.get("nope"),  # 404
                http.put("files"),  # 405
                http.get("batches", params={"limit": 0}),  # 400
                http.get("files/file-nope"),  # 404
            ]
        with raw_http(stack, "sk-wrong") as http:
            responses.append(http.get("files"))  # 401
        assert [r.status_code for r in responses] == [200] * 5 + [404, 405, 400, 404, 401]
        ids = [self._check(r) for r in responses]
        assert len(set(ids)) == len(ids)

    def test_sdk_exposes_request_ids(self, stack: Stack) -> None:
        client = new_client(stack)
        page = client.files.list()
        assert page._request_id is not None
        assert REQUEST_ID.match(page._request_id)
        with pytest.raises(openai.NotFoundError) as caught:
            client.files.retrieve("file-nope")
        assert caught.value.request_id is not None
        assert REQUEST_ID.match(caught.value.request_id)


class TestSdkExceptions:
    def test_not_found(self, stack: Stack) -> None:
        client = new_client(stack)
        with pytest.raises(openai.NotFoundError) as file_error:
            client.files.retrieve("file-bogus")
        with pytest.raises(openai.NotFoundError) as batch_error:
            client.batches.retrieve("batch_bogus")
        assert file_error.value.status_code == batch_error.value.status_code == 404
        assert file_error.value.body == {
            "message": "No such File object: file-bogus",
            "type": "invalid_request_error",
            "param": "id",
            "code": None,
        }
        assert batch_error.value.param == "id"
        assert "batch_bogus" in batch_error.value.message

    def test_bad_request(self, stack: Stack) -> None:
        client = new_client(stack)
        with pytest.raises(openai.BadRequestError) as caught:
            client.batches.create(
                input_file_id="file-bogus", endpoint="/v1/embeddings", completion_window="24h"
            )
        error = caught.value
        assert error.status_code == 400
        assert error.param == "input_file_id"
        assert error.type == "invalid_request_error"
        assert error.request_id is not None
        assert "Error code: 400" in str(error)

    def test_content_of_unknown_file(self, stack: Stack) -> None:
        client = new_client(stack)
        with pytest.raises(openai.NotFoundError) as caught:
            client.files.content("file-bogus")
        assert caught.value.param == "id"
        assert caught.value.request_id is not None
