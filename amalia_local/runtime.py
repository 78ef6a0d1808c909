"""What every command needs from its surroundings, resolved once by the CLI."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from amalia_local.formatting import NumberFormat
from amalia_local.i18n import Translator
from amalia_local.locations import Locations

if TYPE_CHECKING:
    from amalia_local.config import Config
    from amalia_local.engine.llama_log import LlamaLogSink


def warn_on_stderr(message: str) -> None:
    """A warning as the CLI writes its error lines: ``amalia: ...`` on standard error."""
    print(f"amalia: {message}", file=sys.stderr)


@dataclass
class Runtime:
    """Paths, language and verbosity for one invocation; passed down, never global."""

    locations: Locations = field(default_factory=Locations.resolve)
    translator: Translator = field(default_factory=Translator)
    verbose: bool = False
    warn: Callable[[str], None] = warn_on_stderr  # a line the user should see, not an error

    @cached_property
    def config(self) -> Config:
        """``config.toml``, read and checked once per invocation: the store's offline
        switch and the command's settings come from the same reading, and a key this
        version does not know is reported once (a read-modify-write, as ``pull`` setting
        the default model, reads the file afresh instead)."""
        from amalia_local.config import CONFIG_NAME, Config

        config, unknown = Config.read(self.locations.config_dir)
        path = self.locations.config_dir / CONFIG_NAME
        for key in unknown:
            self.warn(self.t("config.unknown_key", path=path, setting=key))
        return config

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
