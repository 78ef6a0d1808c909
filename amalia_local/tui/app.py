"""The AMALIA chat app: wires screens, owns the chat model and the conversation store.

Loading a model takes seconds to minutes, so the chat screen appears at once and the
model opens in a thread worker. It is one :class:`~amalia_local.chat_model.ChatModel`,
loaded here or on a server (``--endpoint``): only :meth:`AmaliaApp.open_model` tells
the two apart. Everything that talks to llama.cpp goes through the engine shared with
the CLI, and llama.cpp's own log goes to a file, never the screen.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, cast

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.command import CommandPalette
from textual.screen import Screen

from amalia_local.config import Config
from amalia_local.conversations import ConversationStore
from amalia_local.errors import AmaliaError
from amalia_local.formatting import Count, NumberFormat
from amalia_local.i18n import Translator
from amalia_local.runtime import Runtime
from amalia_local.services.models import ModelSource
from amalia_local.tui.keys import translate_bindings
from amalia_local.tui.screens.chat import ChatScreen
from amalia_local.tui.screens.first_run import FirstRunScreen
from amalia_local.tui.screens.help import HelpScreen
from amalia_local.tui.screens.settings import SettingsScreen
from amalia_local.tui.widgets.prompt import NEWLINE_KEYS

if TYPE_CHECKING:
    from amalia_local.chat_model import ChatModel, Placement
    from amalia_local.engine import LoadOptions, ReplyStats, SamplingOptions
    from amalia_local.engine.llama_log import LlamaLogSink
    from amalia_local.remote.spec import EndpointSpec


GENERATION_SWITCH_INTERVAL_S = 0.0005


@dataclass(frozen=True)
class LoadOverrides:
    """``--ctx/--threads/--gpu-layers`` from the command line: this run only, not saved."""

    n_ctx: int | None = None
    n_threads: int | None = None
    n_gpu_layers: int | None = None
    force: bool = False  # --force: load even when the model will not fit in available RAM
    kv_type: str | None = None  # --kv-type


class AmaliaApp(App[None]):
    CSS_PATH = "amalia.tcss"
    TITLE = "AMALIA"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "key.quit", priority=True),
        # Not a priority: in a text box Ctrl+C copies the selection, as in Textual.
        Binding("ctrl+c", "quit", show=False),
        Binding("f1", "help", "key.help"),
        Binding("ctrl+p", "command_palette", "key.palette", show=False, priority=True),
    ]

    def __init__(
        self,
        runtime: Runtime,
        config: Config,
        model: str | None = None,
        overrides: LoadOverrides | None = None,
        *,
        offline: bool = False,
        endpoint: EndpointSpec | None = None,
    ) -> None:
        super().__init__()
        self.runtime = runtime
        self.translator = runtime.translator
        self.config = config
        self.overrides = overrides or LoadOverrides()
        self.models = ModelSource(runtime.locations, offline=offline, config_offline=config.offline)
        self.model_ref = model or config.model  # a store name or a path to a .gguf file
        self.store = ConversationStore.in_dir(runtime.locations.data_dir)
        # --endpoint: the model lives on a server; nothing is loaded in this process.
        self.endpoint = endpoint
        self.model: ChatModel | None = None  # what the chat talks to, once open
        self.loading: str | None = None
        self._llama_log: LlamaLogSink | None = None  # not _log: App's own method
        self._generation_idle = threading.Event()
        self._generation_idle.set()
        self._switch_interval = sys.getswitchinterval()
        translate_bindings(self, self.t)

    def t(self, key: str, **params: object) -> str:
        return self.translator.t(key, **params)

    @property
    def numbers(self) -> NumberFormat:
        return self.translator.numbers

    # --- start and stop -----------------------------------------------------------------
    def on_mount(self) -> None:
        if self.endpoint is None and self.model_ref is None:
            # The picker is for a machine with nothing installed; with models present
            # (say one imported by hand) the chat opens with one of them.
            self.model_ref = self.models.default_installed()
        if self.endpoint is None and self.model_ref is None:
            self.push_screen(FirstRunScreen())
            return
        self.push_screen(ChatScreen())
        # Parsing the GGUF holds the GIL for a while: paint the chat first, then load.
        self.call_after_refresh(self.open_model)

    def choose_model(self, reference: str) -> None:
        """From the first-run screen: remember the file and open the chat with it."""
        self.config = replace(self.config, model=reference)
        self.config.save(self.runtime.locations.config_dir)
        self.model_ref = reference
        self.switch_screen(ChatScreen())
        self.open_model()

    async def action_quit(self) -> None:
        chat = self.chat_screen()
        if chat is not None:
            chat.stop_for_quit()
        # The answer stops within one token (a search of documents when it ends); wait
        # for it so the engine can be closed safely and the final text is saved.
        for _ in range(150):
            if self._generation_idle.is_set():
                break
            await asyncio.sleep(0.02)
        self.exit()

    def on_unmount(self) -> None:
        if self.model is not None and self._generation_idle.is_set():
            self.model.close()
        self.model = None
        self.store.close()
        if self._llama_log is not None and self._generation_idle.is_set():
            self._llama_log.close()

    # --- the model --------------------------------------------------------------------
    def load_options(self) -> LoadOptions:
        from amalia_local.services.loading import load_options

        o = self.overrides
        return load_options(
            self.config,
            n_ctx=o.n_ctx,
            n_threads=o.n_threads,
            n_gpu_layers=o.n_gpu_layers,
            kv_type=o.kv_type,
        )

    def chat_model(self) -> ChatModel | None:
        """What the chat talks to; None while it opens or when it could not."""
        return self.model

    @work(thread=True, exclusive=True, group="model", exit_on_error=False)
    def open_model(self) -> None:
        """Open what was asked for: the server's model, or a file loaded here.

        The one place that tells the two apart; after it there is one ChatModel.
        """
        old, self.model = self.model, None
        if old is not None:
            old.close()  # free its memory before a new model takes more
        notices: list[str] = []  # none for a model on a server
        try:
            if self.endpoint is not None:
                self._loading(self.endpoint.url)
                model = self.endpoint.open()
            else:
                assert self.model_ref is not None
                self._loading(self.model_ref)
                model, notices = self._load_here(self.model_ref)
        except (AmaliaError, OSError) as exc:
            self.loading = None
            self.call_from_thread(self._model_failed, exc)
            return
        self.loading = None
        self.model = model
        self.call_from_thread(self._model_ready, notices)

    def _loading(self, what: str) -> None:
        self.loading = what
        self.call_from_thread(self._refresh_status)

    def _load_here(self, reference: str) -> tuple[ChatModel, list[str]]:
        """A GGUF loaded in this process, and what the user must hear about its settings."""
        from amalia_local.engine.local import LocalModel
        from amalia_local.services.loading import open_checked, state_budget_bytes

        path = self.models.resolve(reference)
        if self._llama_log is None:
            self._llama_log = self.runtime.open_llama_log()
        engine = open_checked(
            path,
            self.load_options(),
            self._llama_log,
            force=self.overrides.force,
            cache_dir=self.runtime.locations.cache_dir,
            state_dir=self.runtime.locations.kv_state_dir,
            state_budget=state_budget_bytes(self.config.state_cache_gb),
        )
        opts = engine.options
        notices = []
        if opts.kv_reason == "ram":
            notices.append(self.t("notice.kv_type_ram", n_ctx=Count(opts.n_ctx)))
        return LocalModel(engine), notices

    def _model_ready(self, notices: list[str]) -> None:
        chat = self.chat_screen()
        if chat is not None:
            chat.model_changed()
        for notice in notices:
            self.notify(notice, timeout=8)

    def _model_failed(self, error: BaseException) -> None:
        self.notify(self.describe_error(error), severity="error", timeout=15)
        self._refresh_status()

    def _refresh_status(self) -> None:
        chat = self.chat_screen()
        if chat is not None:
            chat.refresh_status()

    def chat_screen(self) -> ChatScreen | None:
        for screen in self.screen_stack:
            if isinstance(screen, ChatScreen):
                return screen
        return None

    def generation_started(self) -> None:
        self._generation_idle.clear()
        # Every llama.cpp call releases the GIL and must take it back; while the UI
        # thread paints, the default 5 ms switch interval would stall each token that
        # long. A short interval while streaming keeps the model at full speed.
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(GENERATION_SWITCH_INTERVAL_S)

    def generation_finished(self) -> None:
        """Called from the generation thread when the answer has ended and been saved."""
        sys.setswitchinterval(self._switch_interval)
        self._generation_idle.set()

    # --- what screens ask for -------------------------------------------------------------
    def sampling(self) -> SamplingOptions:
        from amalia_local.services.loading import sampling_options

        return sampling_options(self.config)

    def system_prompt(self) -> str | None:
        if self.config.system_prompt is not None:
            return self.config.system_prompt or None
        return self.default_system_prompt()

    def default_system_prompt(self) -> str | None:
        model = self.chat_model()
        return model.default_system_prompt() if model is not None else None

    def model_label(self) -> str:
        if self.model is not None:
            return self.model.name
        return _short(self.model_ref) if self.model_ref else "AMALIA"

    def status_parts(self, stats: ReplyStats | None) -> list[str]:
        """The status line: each fact the model knows about how it runs, then the answer's."""
        t, numbers = self.t, self.numbers
        if self.model is None:
            if self.loading:
                return [t("status.loading", model=_short(self.loading))]
            return [t("status.no_model")]
        placement = self.model.placement()
        parts = [self.model.name, *self._where(placement)]
        if placement.n_threads:
            parts.append(t("status.threads", n=numbers.count(placement.n_threads)))
        if placement.n_gpu_layers:
            parts.append(t("status.gpu_layers", n=numbers.count(placement.n_gpu_layers)))
        if stats is not None and stats.generation_tokens_per_second:
            parts.append(t("status.speed", tps=numbers.decimal(stats.generation_tokens_per_second)))
        if placement.n_ctx:
            used = stats.context_used if stats is not None else 0
            parts.append(
                t("status.context", used=numbers.count(used), size=numbers.count(placement.n_ctx))
            )
        return parts

    def _where(self, placement: Placement) -> list[str]:
        parts = [placement.backend] if placement.backend else []
        if placement.endpoint:
            parts.append(self.t("status.endpoint", url=placement.endpoint))
        return parts

    def describe_error(self, error: BaseException) -> str:
        if isinstance(error, AmaliaError):
            return self.t(error.key, **error.params)
        return self.t("error.unexpected", reason=f"{type(error).__name__}: {error}")

    def model_description(self) -> str:
        if self.model is None:
            return self.t("status.no_model")
        placement = self.model.placement()
        m = placement.file
        if m is None or not placement.n_ctx:
            return " — ".join([self.model.name, *self._where(placement)])
        return self.t(
            "settings.model_info",
            name=m.name,
            quant=m.file_type or "?",
            size=self.numbers.bytes(m.size_bytes),
            params=self.numbers.short(m.parameter_count),
            trained=self.numbers.count(m.context_length),
            n_ctx=self.numbers.count(placement.n_ctx),
        )

    # --- settings -----------------------------------------------------------------------
    def open_settings(self) -> None:
        choices = self.models.choices(self.config, self.model_ref, numbers=self.numbers)
        screen = SettingsScreen(
            replace(self.config, model=self._shown_model()),
            choices,
            self.model_description(),
            self.system_prompt() or "",
            self.default_system_prompt(),
        )
        self.push_screen(screen, self._apply_settings)

    async def _apply_settings(self, config: Config | None) -> None:
        if config is None:
            return
        switch = config.model != self._shown_model()
        reload = switch or config.n_ctx != self.config.n_ctx
        relabel = config.language != self.config.language
        self.config = config
        config.save(self.runtime.locations.config_dir)
        chat = self.chat_screen()
        if chat is not None:
            chat.model_changed()  # new system prompt or sampling: a fresh session
        if relabel:
            await self._change_language(config.language)
        self.notify(self.t("settings.saved"))
        if switch and config.model:
            # A model chosen here is a file: the chat leaves the server for it.
            self.endpoint, self.model_ref = None, config.model
        if reload:
            self.open_model()

    def _shown_model(self) -> str | None:
        """The model the settings show as chosen: the one open, else the saved default."""
        return self.model_ref or self.config.model

    async def _change_language(self, language: str | None) -> None:
        """Relabel everything now, without a restart."""
        self.translator = Translator(language)  # None: follow the locale again
        self.runtime.translator = self.translator
        translate_bindings(self, self.t)
        chat = self.chat_screen()
        if chat is not None:
            await chat.relabel()

    # --- keys, help and the command palette ---------------------------------------------
    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        rows = [
            ("Enter", self.t("key.send")),
            (_key_label(",".join(NEWLINE_KEYS)), self.t("key.newline")),
        ]
        bindings = list(ChatScreen.BINDINGS) + list(self.BINDINGS)
        for binding in bindings:
            if isinstance(binding, Binding) and binding.description:
                rows.append((_key_label(binding.key), self.t(binding.description)))
        self.push_screen(HelpScreen(self.t("help.title"), rows))

    def action_command_palette(self) -> None:
        # is_open takes an App[object], which App[None] is not to mypy (App's return type
        # is invariant); it only reads the app's current screen.
        if not CommandPalette.is_open(cast("App[object]", self)):
            self.push_screen(
                CommandPalette(placeholder=self.t("palette.placeholder"), id="--command-palette")
            )

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        t = self.t
        chat = self.chat_screen()
        if chat is not None:
            for action, name in (
                ("new_conversation", "new"),
                ("stop", "stop"),
                ("regenerate", "regenerate"),
                ("edit_last", "edit"),
                ("copy_answer", "copy"),
                ("toggle_sidebar", "sidebar"),
                ("search", "search"),
                ("rename", "rename"),
                ("delete", "delete"),
                ("export", "export"),
                ("attach", "attach"),
                ("settings", "settings"),
            ):
                yield SystemCommand(t(f"key.{name}"), t(f"command.{name}"), _runner(chat, action))
        yield SystemCommand(t("key.help"), t("command.help"), self.action_help)
        yield SystemCommand(t("key.quit"), t("command.quit"), self.action_quit)


def _short(reference: str) -> str:
    """A file name for a path, the name itself for a store name."""
    return Path(reference).name if reference.lower().endswith(".gguf") else reference


def _runner(screen: Screen, action: str):
    async def run() -> None:
        await screen.run_action(action)

    return run


def _key_label(keys: str) -> str:
    """``ctrl+n, f2`` -> ``Ctrl+N, F2``: how keys are written on keyboards and in manuals."""
    names = {"escape": "Esc", "enter": "Enter", "ctrl": "Ctrl", "shift": "Shift"}

    def one(key: str) -> str:
        return "+".join(
            names.get(p, p.upper() if len(p) <= 3 else p.title()) for p in key.split("+")
        )

    return ", ".join(one(k.strip()) for k in keys.split(","))
