"""The llama.cpp engine: one loaded model, its KV cache, and token streaming.

Everything that touches llama-cpp-python lives here, so the CLI, the chat UI and the
benchmarks share one code path and one set of speed characteristics.
"""

from __future__ import annotations

import codecs
import contextlib
import ctypes
import random
import threading
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import llama_cpp

from amalia_local import hardware
from amalia_local.engine import backends
from amalia_local.engine.devices import gpu_memory
from amalia_local.engine.kv_memory import KvMemory
from amalia_local.engine.llama_log import LlamaLogSink
from amalia_local.engine.llama_private import n_cached, raw_context, raw_vocab
from amalia_local.engine.options import SamplingOptions
from amalia_local.engine.reuse import prepare as prepare_cache
from amalia_local.engine.sampler import sampler_chain
from amalia_local.engine.state_cache import DEFAULT_BUDGET_BYTES, StateCache, model_fingerprint
from amalia_local.engine.stats import ReplyStats, StopReason
from amalia_local.engine.template import CHATML_END_OF_TURN, ChatTemplate
from amalia_local.engine.tokenizer import ExactTokenizer, kv_overrides, rule_from_metadata
from amalia_local.errors import ContextOverflowError, ModelLoadError
from amalia_local.fit import LoadOptions, Machine, ResolvedOptions, decide, model_facts
from amalia_local.formatting import Count
from amalia_local.model_file import ModelFile, inspect


def current_machine() -> Machine:
    backends.ensure_loaded()  # a portable build answers about GPUs only once loaded
    memory = hardware.memory()
    gpu_offload = bool(llama_cpp.llama_supports_gpu_offload())
    gpu = gpu_memory(gpu_offload)
    return Machine(
        physical_cores=hardware.physical_cores(),
        available_ram=memory.available_bytes,
        gpu_offload=gpu_offload,
        total_ram=memory.total_bytes,
        unified_memory=gpu.unified,
        vram_free=gpu.free,
    )


@dataclass
class _CacheMemo:
    """The text whose tokens are (nearly all) in the KV cache, and those tokens.

    Re-tokenising a conversation can split the previous answer differently from how the
    model produced it, which breaks llama.cpp's prefix match and re-evaluates the whole
    history. Keeping the model's own tokens for the text it has seen avoids that.
    """

    text: str = ""
    tokens: list[int] = field(default_factory=list)


class Engine:
    """A loaded GGUF model ready to generate; not thread-safe except :meth:`cancel` paths."""

    # Prompt tokens evaluated between two progress updates (ReplyStats.prompt_tokens_read).
    # At AMALIA's 15 tokens/s on a laptop CPU that is an update every ~8 s; smaller steps
    # would cost prompt speed (see tests/benchmarks/bench_documents.py).
    progress_chunk = 128

    def __init__(
        self,
        model_file: ModelFile,
        options: ResolvedOptions,
        log: LlamaLogSink,
        state_dir: Path | None = None,
        state_budget: int = DEFAULT_BUDGET_BYTES,
    ) -> None:
        self.model_file = model_file
        self.options = options
        self._log = log
        self._lock = threading.Lock()
        backends.ensure_loaded()
        log.clear_errors()
        rule = rule_from_metadata(model_file.metadata)
        try:
            with contextlib.redirect_stderr(log.stream), contextlib.redirect_stdout(log.stream):
                self._llm = llama_cpp.Llama(
                    model_path=str(model_file.path),
                    # llama.cpp's own dummy prefix off where the tokenizer does it exactly
                    kv_overrides=kv_overrides(rule),
                    n_ctx=options.n_ctx,
                    n_threads=options.n_threads,
                    n_threads_batch=options.n_threads,
                    n_gpu_layers=options.n_gpu_layers,
                    n_batch=options.n_batch,
                    type_k=int(options.kv_type.ggml_type),
                    type_v=int(options.kv_type.ggml_type),
                    flash_attn=options.flash_attention,
                    # verbose=False would swap file descriptors 1 and 2 for /dev/null while
                    # loading, which corrupts a running terminal UI; the C log already goes
                    # to our sink, and Python-side chatter goes to the same file.
                    verbose=True,
                )
        except (ValueError, RuntimeError, OSError) as exc:
            reason = log.failure_reason() or str(exc)
            raise ModelLoadError(
                "error.model_load_failed", path=model_file.path, reason=reason
            ) from exc
        finally:
            log.stream.flush()
        self._llm.verbose = False  # keep per-call prefix-match chatter out of stdout/stderr
        self._vocab = raw_vocab(self._llm)
        self.tokenizer = ExactTokenizer(self._vocab, rule)
        self._pieces: dict[int, bytes] = {}
        self._memo = _CacheMemo()
        self._kv = KvMemory(self._llm)
        self.states = self._state_cache(state_dir, state_budget)
        self.template = ChatTemplate(
            model_file.chat_template,
            bos_token=self.token_text(self._llm.token_bos()),
            eos_token=self.token_text(self._llm.token_eos()),
        )
        self._extra_stops = self._fallback_stops()

    # --- construction -----------------------------------------------------------------
    @classmethod
    def open(
        cls,
        path: str,
        request: LoadOptions,
        log: LlamaLogSink,
        machine: Machine | None = None,
        cache_dir: Path | None = None,
        state_dir: Path | None = None,
        state_budget: int = DEFAULT_BUDGET_BYTES,
    ) -> Engine:
        model_file = inspect(path, cache_dir)
        machine = machine or current_machine()
        resolved = decide(model_facts(model_file), request, machine, check=False)
        return cls(model_file, resolved, log, state_dir, state_budget)

    def _state_cache(self, state_dir: Path | None, budget: int) -> StateCache | None:
        """Saved states for this model and these cache settings (None: not saving)."""
        if state_dir is None or budget <= 0:
            return None
        identity = {
            "model": model_fingerprint(self.model_file.path),
            "kv_type": self.options.kv_type.value,
            "flash_attn": self.options.flash_attention,
            "llama_cpp": llama_cpp.__version__,
        }
        return StateCache(state_dir, identity, budget, report=self._log.note)

    def close(self) -> None:
        llm = getattr(self, "_llm", None)
        if llm is not None:
            with contextlib.redirect_stderr(self._log.stream):
                llm.close()
            # Typed as always loaded, which holds until close(): use after it is a bug.
            self._llm = None  # type: ignore[assignment]

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- vocabulary -----------------------------------------------------------------------
    @property
    def n_ctx(self) -> int:
        return self._llm.n_ctx()

    def token_text(self, token: int) -> str:
        """Text of a special token (``<|im_end|>``), empty when the id is invalid."""
        if token < 0 or token >= self._llm.n_vocab():
            return ""
        return self._piece(token, special=True).decode("utf-8", errors="replace")

    def _piece(self, token: int, special: bool = False) -> bytes:
        buf = ctypes.create_string_buffer(64)
        n = llama_cpp.llama_token_to_piece(self._vocab, token, buf, len(buf), 0, special)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = llama_cpp.llama_token_to_piece(self._vocab, token, buf, len(buf), 0, special)
        return buf.raw[:n]

    @property
    def vocab_size(self) -> int:
        return int(self._llm.n_vocab())

    def piece(self, token: int) -> bytes:
        """Bytes a generated token contributes to the answer (control tokens: none)."""
        cached = self._pieces.get(token)
        if cached is None:
            cached = self._pieces[token] = self._piece(token)
        return cached

    def is_end_of_generation(self, token: int) -> bool:
        return token in self._extra_stops or bool(llama_cpp.llama_vocab_is_eog(self._vocab, token))

    def _fallback_stops(self) -> frozenset[int]:
        """ChatML's end-of-turn must stop generation even when the file forgot to say so."""
        if not self.template.is_fallback:
            return frozenset()
        ids = self.tokenize(CHATML_END_OF_TURN, add_special=False)
        return frozenset(ids) if len(ids) == 1 else frozenset()

    def tokenize(self, text: str, *, add_special: bool = True, special: bool = True) -> list[int]:
        """Exact ids (see :mod:`.tokenizer`); BOS only once even if the text starts with it."""
        bos_text = self.template.bos_token if hasattr(self, "template") else ""
        if add_special and special and bos_text and text.startswith(bos_text):
            add_special = False
        return self.tokenizer.tokenize(text, add_bos=add_special, special=special)

    def chat_tokens(self, text: str) -> list[int]:
        """A rendered chat as transformers' ``apply_chat_template`` tokenizes it: specials
        parsed, BOS only where the template writes it (as vLLM does too)."""
        return self.tokenize(text, add_special=False)

    def prompt_tokens(self, text: str) -> list[int]:
        """Tokens for a rendered conversation, reusing the model's own tokens for its past."""
        memo = self._memo
        if memo.tokens:
            spliced = self.splice_tokens(text, memo.text, memo.tokens)
            if spliced is not None:
                return spliced
        return self.chat_tokens(text)

    def splice_tokens(self, text: str, known: str, tokens: list[int]) -> list[int] | None:
        """``tokens`` (the model's own for ``known``, a prefix of ``text``) plus the rest
        tokenized, or None where that would not be exact."""
        if not text.startswith(known):
            return None
        rest = self.tokenize(text[len(known) :], add_special=False)
        # Splicing is exact only at a special-token boundary (e.g. <|im_end|>): raw text
        # after a splice could gain a SentencePiece space prefix.
        if rest and llama_cpp.llama_vocab_is_control(self._vocab, rest[0]):
            return tokens + rest
        return None

    def cached_prefix(self, tokens: list[int]) -> int:
        """How many leading ``tokens`` are already in the KV cache."""
        return self._kv.common_prefix(tokens)

    # --- raw evaluation (benchmarks) -------------------------------------------------------
    def clear_cache(self) -> None:
        self._llm.reset()
        self._memo = _CacheMemo()

    def sample_tokens(self, n: int, seed: int = 1234) -> list[int]:
        """``n`` ordinary (non-control) token ids, reproducible, for timing runs."""
        rng = random.Random(seed)
        n_vocab = self._llm.n_vocab()
        tokens: list[int] = []
        while len(tokens) < n:
            token = rng.randrange(n_vocab)
            if not llama_cpp.llama_vocab_is_control(self._vocab, token):
                tokens.append(token)
        return tokens

    def time_prompt(self, tokens: list[int]) -> float:
        """Seconds to process ``tokens`` as one prompt from an empty cache."""
        self.clear_cache()
        start = time.perf_counter()
        self._llm.eval(tokens)
        return time.perf_counter() - start

    def time_generation(self, tokens: list[int]) -> float:
        """Seconds to decode ``tokens`` one at a time, as generation does."""
        self.clear_cache()
        start = time.perf_counter()
        for token in tokens:
            self._llm.eval([token])
        return time.perf_counter() - start

    # --- generation -----------------------------------------------------------------------
    def generate(
        self,
        prompt_text: str,
        tokens: list[int],
        sampling: SamplingOptions,
        stats: ReplyStats,
        cancel: threading.Event | None = None,
        shared_prefix: int = 0,
    ) -> Iterator[str]:
        """Stream UTF-8-complete text chunks for ``tokens``; fills ``stats`` as it goes.

        Closing the iterator early counts as a cancellation; the KV cache keeps what was
        evaluated either way so the next turn continues from it. ``cancel`` also stops the
        evaluation of the prompt itself. ``shared_prefix`` leading tokens (the system
        prompt) are saved as a state of their own, for other conversations to start from.
        """
        if not self._lock.acquire(blocking=False):
            raise RuntimeError("engine is already generating")
        try:
            yield from self._generate(prompt_text, tokens, sampling, stats, cancel, shared_prefix)
        finally:
            self._lock.release()

    def _evaluate_prompt(
        self,
        tokens: list[int],
        stats: ReplyStats,
        cancel: threading.Event | None,
        shared_prefix: int,
    ) -> bool:
        """Everything but the last prompt token into the cache; False if cancelled.

        The last token is left to :meth:`_sample`, which decodes it to get the logits to
        sample the first token of the answer from.
        """
        reuse = prepare_cache(self._kv, self.states, tokens, self.n_ctx)
        cached = min(reuse.cached, len(tokens) - 1)
        self._kv.keep(cached)
        stats.prompt_tokens_cached = cached
        stats.prompt_tokens_restored = min(reuse.restored, cached)
        stats.cache_tokens_cut = reuse.cut
        end = len(tokens) - 1
        stops = [end]
        if self.states is not None and cached < shared_prefix < end:
            stops = [shared_prefix, end]
        stats.prompt_tokens_read = cached
        started = time.perf_counter()
        step = max(1, min(self.progress_chunk, self.options.n_batch))
        try:
            with self._kv.abortable(cancel):
                for stop in stops:
                    # In steps, each one batch or less, so a display can say how far the
                    # reading has got (Llama.eval would split it into batches anyway).
                    while n_cached(self._llm) < stop:
                        start = n_cached(self._llm)
                        self._llm.eval(tokens[start : min(start + step, stop)])
                        stats.prompt_tokens_read = n_cached(self._llm)
                        stats.prompt_read_seconds = time.perf_counter() - started
                    if stop == shared_prefix:
                        self._save_state(anchor=True)
        except RuntimeError:
            if cancel is not None and cancel.is_set():
                self._kv.keep(n_cached(self._llm))  # drop cells of the aborted batch
                return False
            raise
        return not (cancel is not None and cancel.is_set())

    def _save_state(self, anchor: bool = False) -> None:
        if self.states is None or n_cached(self._llm) == 0:
            return
        try:
            self.states.save(self._kv.tokens(), self._kv.snapshot(), anchor=anchor)
        except OSError as exc:  # a full disk must not cost the user their answer
            self._log.note(f"could not save the KV state: {exc}")

    def _sample(self, tokens: list[int], sampling: SamplingOptions) -> Generator[int, None, None]:
        """Tokens chosen after the prompt, one after another, until the caller closes it.

        The prompt is cached but for its last token (see _evaluate_prompt); that one is
        decoded here, then each token chosen in turn. The chain is serve's too
        (sampler.py): the same settings and seed give the same answer in both.
        """
        llm = self._llm
        chain = sampler_chain(sampling, self._vocab)
        ctx = raw_context(llm)
        try:
            pending = tokens[n_cached(llm) :]
            while True:
                llm.eval(pending)
                token = llama_cpp.llama_sampler_sample(chain, ctx, -1)
                yield token
                pending = [token]
        finally:
            llama_cpp.llama_sampler_free(chain)

    def _generate(
        self,
        prompt_text: str,
        tokens: list[int],
        sampling: SamplingOptions,
        stats: ReplyStats,
        cancel: threading.Event | None,
        shared_prefix: int,
    ) -> Iterator[str]:
        n_ctx = self.n_ctx
        room = n_ctx - len(tokens)
        if room <= 0:
            raise ContextOverflowError(
                "error.context_overflow", needed=Count(len(tokens)), n_ctx=Count(n_ctx)
            )
        budget = min(room, sampling.max_tokens) if sampling.max_tokens else room
        stats.context_size = n_ctx
        stats.prompt_tokens = len(tokens)
        stats.stop_reason = StopReason.LENGTH

        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        generated: list[int] = []
        text_parts: list[str] = []
        sampled = 0
        start = time.perf_counter()
        first = last = start
        decoded_before = self._kv.decoded_tokens()
        if not self._evaluate_prompt(tokens, stats, cancel, shared_prefix):
            stats.stop_reason = StopReason.CANCELLED
            stats.prompt_tokens_evaluated = self._kv.decoded_tokens() - decoded_before
            stats.prompt_seconds = time.perf_counter() - start
            self._memo = _CacheMemo()
            return
        stream = self._sample(tokens, sampling)
        try:
            for token in stream:
                last = time.perf_counter()
                sampled += 1
                if sampled == 1:
                    first = last
                    # llama.cpp's own count: what prompt processing really decoded.
                    stats.prompt_tokens_evaluated = self._kv.decoded_tokens() - decoded_before
                if self.is_end_of_generation(token):
                    stats.stop_reason = StopReason.END
                    break
                generated.append(token)
                stats.generated_tokens = len(generated)  # live, for whoever cancels
                chunk = decoder.decode(self.piece(token))
                if chunk:
                    text_parts.append(chunk)
                    yield chunk
                if cancel is not None and cancel.is_set():
                    stats.stop_reason = StopReason.CANCELLED
                    break
                if len(generated) >= budget:
                    break
            tail = decoder.decode(b"", final=True)
            if tail:
                text_parts.append(tail)
                yield tail
        except GeneratorExit:
            stats.stop_reason = StopReason.CANCELLED
            raise
        finally:
            stream.close()
            stats.generated_tokens = len(generated)
            stats.sampled_tokens = sampled
            stats.time_to_first_token_s = first - start if sampled else 0.0
            stats.prompt_seconds = stats.time_to_first_token_s
            stats.generation_seconds = last - first if sampled > 1 else 0.0
            answer = "".join(text_parts)
            # Remember the pairing only when the text is byte-exact (no U+FFFD stand-ins).
            if answer.encode("utf-8") == b"".join(self.piece(t) for t in generated):
                self._memo = _CacheMemo(prompt_text + answer, tokens + generated)
            else:
                self._memo = _CacheMemo()
            self._save_state()
