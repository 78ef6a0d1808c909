"""What every command needs from its surroundings, resolved once by the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from amalia_local.formatting import NumberFormat
from amalia_local.i18n import Translator
from amalia_local.locations import Locations

if TYPE_CHECKING:
    from amalia_local.engine.llama_log import LlamaLogSink


@dataclass
class Runtime:
    """Paths, language and verbosity for one invocation; passed down, never global."""

    locations: Locations = field(default_factory=Locations.resolve)
    translator: Translator = field(default_factory=Translator)
    verbose: bool = False

    def t(self, key: str, **params: object) -> str:
        return self.translator.t(key, **params)

    @property
    def numbers(self) -> NumberFormat:
        """Sizes, counts and decimals in the interface language (5,6 GB in pt)."""
        return self.translator.numbers

    def open_llama_log(self) -> LlamaLogSink:
        """llama.cpp's C log into our log file; imports llama.cpp, so only commands that
        run a model call it."""
        from amalia_local.engine.llama_log import LlamaLogSink

        return LlamaLogSink(self.locations.llama_log_file, echo=self.verbose)
