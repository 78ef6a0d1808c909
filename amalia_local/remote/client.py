"""A client for any OpenAI-compatible server: ours, llama-server, vLLM, Ollama.

Only the two calls the chat needs: list the models, and stream a chat completion. The
stream is read as server-sent events line by line; closing it (Esc in the chat) closes
the connection, which is how every such server learns to stop generating.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from amalia_local.engine.stats import ReplyStats, StopReason
from amalia_local.errors import RemoteError
from amalia_local.i18n import Phrase
from amalia_local.remote import http

if TYPE_CHECKING:
    from amalia_local.engine.options import SamplingOptions

CONNECT_TIMEOUT_S = 10.0
# A big model on a busy server may think for a while before its first token.
READ_TIMEOUT_S = 600.0
_STOP_REASONS = {"stop": StopReason.END, "length": StopReason.LENGTH}


def api_base(url: str) -> str:
    """``http://host:8000`` and ``http://host:8000/v1/`` both mean ``.../v1``."""
    base = url.strip().rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise RemoteError("error.endpoint_url", url=url)
    return base if base.endswith("/v1") else base + "/v1"


class CancelEvent(threading.Event):
    """A cancel flag that also runs ``on_set`` (closing the stream) when it is set."""

    def __init__(self) -> None:
        super().__init__()
        self.on_set: Callable[[], None] | None = None

    def set(self) -> None:
        super().set()
        if self.on_set is not None:
            self.on_set()


class Endpoint:
    """One server's API. Each call is its own connection (the chat asks seldom, and a
    connection to a LAN server costs less than a millisecond), so nothing is held open
    between answers and a cancelled answer leaves no half-read connection behind."""

    def __init__(self, url: str, api_key: str | None = None) -> None:
        self.url = url
        # what messages show: a password in the address is not for the screen or a log
        self.shown = http.without_credentials(url)
        self.base = api_base(url)
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._lock = threading.Lock()
        self._open: set[http.Response] = set()

    def close(self) -> None:
        """Ends any answer still streaming (the chat closing in the middle of one)."""
        with self._lock:
            open_now = list(self._open)
        for response in open_now:
            response.abort()

    def models(self) -> list[str]:
        response = self._request("GET", "/models")
        try:
            try:
                body = json.loads(response.read())
            except http.HTTPError as exc:
                raise self._unreachable(exc) from None
            return [str(m["id"]) for m in body["data"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise RemoteError(
                "error.endpoint_bad_answer", url=self.shown, reason=str(exc)
            ) from None
        finally:
            self._done(response)

    def stream_chat(
        self,
        model: str,
        messages: list[dict[str, str]],
        sampling: SamplingOptions,
        stats: ReplyStats,
        cancel: CancelEvent | None = None,
    ) -> Iterator[str]:
        """Text chunks of the answer; fills ``stats`` from the server's ``usage``."""
        payload: dict[str, Any] = {
            "model": model,
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
        }
        if sampling.max_tokens:
            payload["max_tokens"] = sampling.max_tokens
        if sampling.seed is not None:
            payload["seed"] = sampling.seed
        start = time.perf_counter()
        stats.stop_reason = StopReason.END
        response = self._request("POST", "/chat/completions", payload)
        if cancel is not None:
            cancel.on_set = response.abort
            if cancel.is_set():  # cancelled while the request was on its way
                response.abort()
        first = last = start
        chunks = 0
        try:
            for line in response.iter_lines():
                if cancel is not None and cancel.is_set():
                    stats.stop_reason = StopReason.CANCELLED
                    break
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                event = _json(data, self.shown)
                if "error" in event:
                    raise RemoteError(
                        "error.endpoint_status",
                        url=self.shown,
                        status="stream",
                        message=_message(event),
                    )
                _read_usage(event, stats)
                for choice in event.get("choices") or []:
                    text = (choice.get("delta") or {}).get("content") or ""
                    reason = choice.get("finish_reason")
                    if reason:
                        stats.stop_reason = _STOP_REASONS.get(reason, StopReason.END)
                    if text:
                        last = time.perf_counter()
                        chunks += 1
                        if chunks == 1:
                            first = last
                        yield text
        except http.Aborted:  # cancelled, or the chat closed, while the answer came
            stats.stop_reason = StopReason.CANCELLED
        except (http.HTTPError, OSError) as exc:
            if cancel is not None and cancel.is_set():
                stats.stop_reason = StopReason.CANCELLED
            else:
                raise self._unreachable(exc) from None
        except GeneratorExit:
            stats.stop_reason = StopReason.CANCELLED
            raise
        finally:
            self._done(response)
            stats.time_to_first_token_s = stats.prompt_seconds = first - start if chunks else 0.0
            stats.generation_seconds = last - first
            if not stats.sampled_tokens:
                stats.sampled_tokens = stats.generated_tokens or chunks

    # --- requests and their errors --------------------------------------------------------
    def _request(self, method: str, path: str, payload: object = None) -> http.Response:
        """The answer's head, read; any status but 200 is raised as its error."""
        headers = dict(self._headers)
        body = None
        if payload is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        try:
            response = http.request(
                method,
                self.base + path,
                headers=headers,
                body=body,
                connect_timeout=CONNECT_TIMEOUT_S,
                read_timeout=READ_TIMEOUT_S,
            )
        except http.HTTPError as exc:
            raise self._unreachable(exc) from None
        if response.status != 200:
            try:
                raise self._status_error(response)
            finally:
                response.close()
        with self._lock:
            self._open.add(response)
        return response

    def _done(self, response: http.Response) -> None:
        with self._lock:
            self._open.discard(response)
        response.close()

    def _unreachable(self, exc: BaseException) -> RemoteError:
        if not isinstance(exc, http.HTTPError):
            exc = http.HTTPError.from_os(exc)
        reason = Phrase(exc.key, **exc.params)
        return RemoteError("error.endpoint_unreachable", url=self.shown, reason=reason)

    def _status_error(self, response: http.Response) -> RemoteError:
        try:
            body = json.loads(response.read())
        except (ValueError, http.HTTPError, OSError):
            body = {}
        message = _message(body) or response.reason
        error = body.get("error") if isinstance(body, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        if response.status == 401:
            return RemoteError("error.endpoint_auth", url=self.shown)
        if code == "context_length_exceeded":
            return RemoteError("error.endpoint_context", url=self.shown, message=message)
        return RemoteError(
            "error.endpoint_status", url=self.shown, status=response.status, message=message
        )


def _json(data: str, url: str) -> dict[str, Any]:
    try:
        event = json.loads(data)
    except ValueError as exc:
        raise RemoteError("error.endpoint_bad_answer", url=url, reason=str(exc)) from None
    if not isinstance(event, dict):
        raise RemoteError("error.endpoint_bad_answer", url=url, reason="not a JSON object")
    return event


def _message(body: object) -> str:
    if not isinstance(body, dict):
        return ""
    error = body.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or "")
    if isinstance(error, str):
        return error
    return str(body.get("detail") or body.get("message") or "")


def _read_usage(event: dict[str, Any], stats: ReplyStats) -> None:
    usage = event.get("usage")
    if not isinstance(usage, dict):
        return
    stats.prompt_tokens = stats.prompt_tokens_evaluated = int(usage.get("prompt_tokens") or 0)
    stats.generated_tokens = int(usage.get("completion_tokens") or 0)
    stats.sampled_tokens = stats.generated_tokens
