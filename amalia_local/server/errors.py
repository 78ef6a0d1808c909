"""Errors in the OpenAI shape: ``{"error": {"message", "type", "param", "code"}}``.

Each failure a client can cause has one status code and one ``type``, so a client
library raises the exception it documents (``BadRequestError``, ``AuthenticationError``,
``NotFoundError`` ...), and nothing a client sends ends in a traceback.
"""

from __future__ import annotations

from starlette.responses import JSONResponse


class APIError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, object]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


# Ollama's routes answer errors as Ollama does: {"error": "..."}.
OLLAMA_PREFIX = "/api/"


def shaped(path: str, exc: APIError) -> JSONResponse:
    """The error object for a request to ``path``: OpenAI's, or Ollama's on its routes."""
    if path.startswith(OLLAMA_PREFIX):
        return JSONResponse({"error": exc.message}, status_code=exc.status, headers=exc.headers)
    return exc.response()


def bad_request(message: str, param: str | None = None, code: str | None = None) -> APIError:
    return APIError(400, message, param=param, code=code)


def invalid_schema(reason: object, param: str = "response_format.json_schema") -> APIError:
    """A JSON schema no grammar can be made of: found while converting it, or when
    llama.cpp's parser read the grammar (a left-recursive $ref)."""
    return APIError(400, f"Unsupported JSON schema: {reason}", param=param, code="invalid_schema")


def unauthorized() -> APIError:
    return APIError(
        401,
        "Missing or incorrect API key: send it as 'Authorization: Bearer KEY'.",
        type="authentication_error",
        code="invalid_api_key",
    )


def model_not_found(name: str, served: str) -> APIError:
    return APIError(
        404,
        f"The model '{name}' does not exist here; this server serves '{served}'.",
        param="model",
        code="model_not_found",
    )


def context_exceeded(needed: int, n_ctx: int) -> APIError:
    return APIError(
        400,
        f"The prompt has {needed} tokens; this server's context is {n_ctx} tokens per request.",
        param="messages",
        code="context_length_exceeded",
    )


def too_large(limit: int) -> APIError:
    return APIError(413, f"The request body is larger than {limit} bytes.", code="too_large")


def queue_full(retry_after: int) -> APIError:
    return APIError(
        503,
        "The server is busy: every slot and the queue are full. Retry later.",
        type="server_error",
        code="queue_full",
        headers={"Retry-After": str(retry_after)},
    )


def grammar_busy(wait_s: float) -> APIError:
    return APIError(
        503,
        f"The server is busy converting another JSON schema (waited {wait_s:g} s). Retry later.",
        type="server_error",
        code="grammar_busy",
        headers={"Retry-After": str(max(1, round(wait_s)))},
    )


def client_disconnected() -> APIError:
    """Nobody reads this answer; it exists for the one log line that says what happened
    (499 is the status nginx logs for the same event)."""
    return APIError(
        499, "The client closed the connection before its request arrived.",
        code="client_disconnected",
    )  # fmt: skip


def client_gone() -> APIError:
    """The client left before its answer was complete: nobody reads this (499)."""
    return APIError(
        499, "The client went away before its answer was complete.",
        code="client_disconnected",
    )  # fmt: skip


def internal(message: str) -> APIError:
    return APIError(500, message, type="server_error", code="internal_error")


def body_timeout(idle_s: float) -> APIError:
    return APIError(
        408,
        f"The request body stopped arriving (nothing for {idle_s:g} s, or too slow overall).",
        code="body_timeout",
    )


def unavailable(reason: str) -> APIError:
    return APIError(
        503,
        f"The server cannot answer: its decode loop stopped ({reason}). Restart it.",
        type="server_error",
        code="server_unavailable",
    )
