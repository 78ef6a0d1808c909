"""Routes llama.cpp's C logging to a file instead of the user's terminal.

llama.cpp prints hundreds of lines while loading a model; they matter when something
breaks and are noise otherwise. They go to the log file always, to stderr only with
``--verbose``, and the last error lines are kept to explain a failed load.
"""

from __future__ import annotations

import contextlib
import ctypes
import re
import sys
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import llama_cpp

# ggml_log_level values; CONT continues the previous line at its level.
_LEVEL_ERROR = 4  # ggml.h: NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5
_LEVEL_CONT = 5
# "llama_model_load: error loading model: " in front of the actual reason.
_STRIP_PREFIXES = re.compile(r"^(?:[\w.]+: )*(?:error loading model: )?")


class LlamaLogSink:
    """Owns the C callback for as long as llama.cpp may call it.

    The ctypes function object must outlive every call from C, so it lives here and
    :meth:`close` hands logging back to llama-cpp-python's own handler before it dies.
    """

    def __init__(self, log_file: Path, *, echo: bool = False) -> None:
        self.log_file = log_file
        # Bound now: the engine later redirects sys.stderr into this very log while
        # llama-cpp-python loads, and echoing must still reach the real terminal.
        self._echo_to: TextIO | None = sys.stderr if echo else None
        self.recent_errors: deque[str] = deque(maxlen=8)
        # Optional observer of every message (level, text), e.g. quant/'s progress bar,
        # which reads llama.cpp's "[ i/ n] tensor" lines; called on llama.cpp's thread.
        self.listener: Callable[[int, str], None] | None = None
        self._last_level = 0
        log_file.parent.mkdir(parents=True, exist_ok=True)
        self._stream: TextIO = open(log_file, "a", encoding="utf-8", errors="replace")  # noqa: SIM115
        self._callback = llama_cpp.llama_log_callback(self._on_log)
        llama_cpp.llama_log_set(self._callback, ctypes.c_void_p(0))

    @property
    def stream(self) -> TextIO:
        """Where Python-side chatter from llama-cpp-python is redirected too."""
        return self._stream

    def _on_log(self, level: int, text: bytes, _user_data: ctypes.c_void_p) -> None:
        message = text.decode("utf-8", errors="replace")
        if level != _LEVEL_CONT:
            self._last_level = level
        if self._last_level == _LEVEL_ERROR and message.strip():
            self.recent_errors.append(message.strip())
        try:
            self._stream.write(message)
        except ValueError:
            # Closed under a thread llama.cpp is still logging from (the interpreter is
            # shutting down mid-answer): a lost log line, not a traceback on the terminal.
            return
        if self.listener is not None:
            self.listener(level, message)
        if self._echo_to is not None:
            self._echo_to.write(message)

    def note(self, message: str) -> None:
        """A line of our own about the engine (a saved state ignored, say), in the same log."""
        line = f"amalia: {message}\n"
        with contextlib.suppress(ValueError):  # closed: see _on_log
            self._stream.write(line)
            self._stream.flush()
        if self._echo_to is not None:
            self._echo_to.write(line)

    def clear_errors(self) -> None:
        """Start a new attempt: only errors logged from now on explain its failure."""
        self.recent_errors.clear()

    def failure_reason(self) -> str:
        """The first error line since :meth:`clear_errors`, without llama.cpp's prefixes.

        The first error is the cause ("missing tensor 'blk.1.ffn_down.weight'"); the ones
        after it are consequences ("failed to load model").
        """
        if not self.recent_errors:
            return ""
        return _STRIP_PREFIXES.sub("", self.recent_errors[0])

    def close(self) -> None:
        from amalia_local.engine.llama_private import default_log_callback

        llama_cpp.llama_log_set(default_log_callback(), ctypes.c_void_p(0))
        self._stream.close()

    def __enter__(self) -> LlamaLogSink:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
