"""Reads an answer in tools.py's call format back into OpenAI's ``tool_calls``, as it
streams: a call's id and name as soon as the name is complete, then its arguments in
the pieces they arrive in, as OpenAI streams them.

The grammar (tool_grammar.py) makes the answer either text or calls, so the first
characters decide: once they cannot begin a call, everything is content. Anything
after that does not fit the format (an answer cut by ``max_tokens`` or a stop string
ends early, nothing else can) is given as content too: nothing the model wrote is lost.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from amalia_local.server.tools import ARGS_OPEN, CALL_CLOSE, CALL_OPEN, CALL_SEPARATOR

_NEXT_CALL = CALL_SEPARATOR + CALL_OPEN


class _State(Enum):
    START = "start"  # undecided: text, or the first call
    TEXT = "text"
    NAME = "name"
    AFTER_NAME = "after_name"
    ARGUMENTS = "arguments"
    AFTER_CALL = "after_call"
    BETWEEN = "between"  # after a call: the next one, or the end


@dataclass
class Call:
    id: str
    name: str
    arguments: str = ""
    complete: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


# What feed() reports: ("content", text), ("call", index), ("arguments", index, text).
Event = tuple[Any, ...]


@dataclass
class ToolReader:
    calls: list[Call] = field(default_factory=list)
    content: str = ""
    _state: _State = _State.START
    _buffer: str = ""
    _depth: int = 0
    _in_string: bool = False
    _escaped: bool = False
    _opened: bool = False  # the arguments' object has begun
    _spaces: str = ""  # after the arguments' object: theirs if the call ends next

    def feed(self, text: str) -> list[Event]:
        self._buffer += text
        events: list[Event] = []
        while self._buffer and self._step(events):
            pass
        return events

    def finish(self) -> list[Event]:
        """The end of the answer: text held back while undecided is content after all."""
        events: list[Event] = []
        if self._state in (_State.START, _State.TEXT, _State.BETWEEN) and self._buffer:
            self._content(self._buffer, events)
        elif self._state is _State.NAME and self._buffer:  # cut inside a call's name
            self._content(CALL_OPEN + self._buffer, events)
        self._buffer = ""
        return events

    def _content(self, text: str, events: list[Event]) -> None:
        self.content += text
        events.append(("content", text))
        self._state = _State.TEXT

    def _step(self, events: list[Event]) -> bool:
        """Consume what the state can from the buffer; False to wait for more text."""
        buffer = self._buffer
        if self._state is _State.TEXT:
            self._content(buffer, events)
            self._buffer = ""
            return False
        if self._state in (_State.START, _State.BETWEEN):
            marker = CALL_OPEN if self._state is _State.START else _NEXT_CALL
            if buffer.startswith(marker):
                self._buffer = buffer[len(marker) :]
                self._state = _State.NAME
                return True
            if marker.startswith(buffer):
                return False
            self._content(buffer, events)
            self._buffer = ""
            return False
        if self._state is _State.NAME:
            end = buffer.find('"')
            if end < 0:
                return False
            self.calls.append(Call("call_" + uuid.uuid4().hex[:24], buffer[:end]))
            events.append(("call", len(self.calls) - 1))
            self._buffer = buffer[end:]
            self._state = _State.AFTER_NAME
            return True
        if self._state is _State.AFTER_NAME:
            return self._literal(ARGS_OPEN, _State.ARGUMENTS, events)
        if self._state is _State.AFTER_CALL:
            return self._literal(CALL_CLOSE, _State.BETWEEN, events)
        return self._arguments(events)

    def _literal(self, literal: str, then: _State, events: list[Event]) -> bool:
        buffer = self._buffer
        if len(buffer) < len(literal) and literal.startswith(buffer):
            return False
        if not buffer.startswith(literal):
            self._content(buffer, events)  # not the format: keep it as text
            self._buffer = ""
            return False
        self._buffer = buffer[len(literal) :]
        self._state = then
        return True

    def _arguments(self, events: list[Event]) -> bool:
        """Scan the arguments' JSON object, giving out what is certainly part of it."""
        call = self.calls[-1]
        taken: list[str] = []
        consumed = 0
        for char in self._buffer:
            consumed += 1
            if self._depth == 0 and self._opened:
                # The object is closed: spaces may follow it, then the call's "}".
                if char == "}":
                    taken.append(self._spaces)
                    self._spaces = ""
                    call.complete = True
                    self._opened = False
                    self._state = _State.AFTER_CALL
                    break
                self._spaces += char
                continue
            taken.append(char)
            self._opened = True
            self._track(char)
        piece = "".join(taken)
        if piece:
            call.arguments += piece
            events.append(("arguments", len(self.calls) - 1, piece))
        self._buffer = self._buffer[consumed:]
        return call.complete

    def _track(self, char: str) -> None:
        if self._in_string:
            if self._escaped:
                self._escaped = False
            elif char == "\\":
                self._escaped = True
            elif char == '"':
                self._in_string = False
        elif char == '"':
            self._in_string = True
        elif char in "{[":
            self._depth += 1
        elif char in "}]":
            self._depth -= 1
