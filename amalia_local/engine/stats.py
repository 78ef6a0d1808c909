"""Per-reply figures shared by the CLI (`--json`), the chat UI status bar and benchmarks."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum


class StopReason(str, Enum):
    END = "end"  # the model emitted an end-of-generation token
    LENGTH = "length"  # max tokens reached or the context is full
    CANCELLED = "cancelled"  # the caller asked to stop


@dataclass
class ReplyStats:
    prompt_tokens: int = 0  # the whole rendered conversation
    prompt_tokens_evaluated: int = 0  # what llama.cpp actually had to process this turn
    prompt_tokens_cached: int = 0  # reused from the KV cache of earlier turns
    prompt_tokens_restored: int = 0  # of those, loaded from a state saved on disk
    cache_tokens_cut: int = 0  # dropped turns cut out of the cache (the rest shifted back)
    generated_tokens: int = 0  # tokens of the answer (the end-of-turn token excluded)
    sampled_tokens: int = 0  # every token sampled, end-of-turn included: the decode steps
    time_to_first_token_s: float = 0.0
    prompt_seconds: float = 0.0
    generation_seconds: float = 0.0
    stop_reason: StopReason = StopReason.END
    dropped_messages: int = 0  # oldest turns left out so the conversation fits
    context_size: int = 0
    # Live while the prompt is read, for a progress display polling from another thread:
    # prompt tokens in the cache so far (cached ones included) and the seconds spent
    # evaluating. Not part of as_dict(): the final figures above say it all.
    prompt_tokens_read: int = 0
    prompt_read_seconds: float = 0.0

    @property
    def prompt_tokens_per_second(self) -> float:
        if self.prompt_seconds <= 0:
            return 0.0
        return self.prompt_tokens_evaluated / self.prompt_seconds

    @property
    def generation_tokens_per_second(self) -> float:
        # The first token comes out of prompt processing; the rate counts the rest.
        if self.generation_seconds <= 0 or self.sampled_tokens < 2:
            return 0.0
        return (self.sampled_tokens - 1) / self.generation_seconds

    @property
    def context_used(self) -> int:
        return self.prompt_tokens + self.generated_tokens

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        del data["prompt_tokens_read"], data["prompt_read_seconds"]
        data["stop_reason"] = self.stop_reason.value
        data["prompt_tokens_per_second"] = round(self.prompt_tokens_per_second, 2)
        data["generation_tokens_per_second"] = round(self.generation_tokens_per_second, 2)
        data["context_used"] = self.context_used
        return data
