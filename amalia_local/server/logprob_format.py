"""Token log-probabilities (engine/logprobs.py) in OpenAI's two shapes: the chat's list
of entries with their bytes, and the completions endpoint's parallel lists.

A token may write part of a UTF-8 character; its text is then shown with a replacement
character and its ``bytes`` are exact, as OpenAI does.
"""

from __future__ import annotations

from typing import Any

from amalia_local.engine.logprobs import TokenLogprob


def _text(piece: bytes) -> str:
    return piece.decode("utf-8", errors="replace")


def chat_logprobs(entries: list[TokenLogprob]) -> dict[str, Any]:
    return {
        "content": [
            {
                "token": _text(e.piece),
                "logprob": e.logprob,
                "bytes": list(e.piece),
                "top_logprobs": [
                    {"token": _text(piece), "logprob": lp, "bytes": list(piece)}
                    for piece, lp in e.top
                ],
            }
            for e in entries
        ],
        "refusal": None,
    }


def completion_logprobs(entries: list[TokenLogprob], offset: int) -> dict[str, Any]:
    """``offset``: where the first entry's text starts in the choice's text."""
    offsets = []
    for e in entries:
        offsets.append(offset)
        offset += len(_text(e.piece))
    return {
        "tokens": [_text(e.piece) for e in entries],
        "token_logprobs": [e.logprob for e in entries],
        # Two tokens may write the same text; the likelier one is kept, as OpenAI's.
        "top_logprobs": [{_text(piece): lp for piece, lp in reversed(e.top)} for e in entries],
        "text_offset": offsets,
    }
