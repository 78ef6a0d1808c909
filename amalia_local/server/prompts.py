"""From an API request to prompt tokens, with the engine's own template and tokenizer.

The one place the server turns text into tokens, so exact tokenization (the engine's
single tokenization function) reaches ``serve`` by changing this module alone.

A client sends the whole history each turn. Re-tokenising the model's earlier answer
can split it differently from how the model produced it, which would break the prefix
match and evaluate that answer (and everything after it) again; so where the rendered
prompt starts with an answer a sequence still holds, the model's own tokens for that
text are used (``memos``: BatchGenerator.memos), as the chat does (Engine.prompt_tokens).
"""

from __future__ import annotations

from amalia_local.engine import Engine
from amalia_local.server.schemas import ChatMessage
from amalia_local.server.tools import ToolPlan, render_chat

# (text, tokens) pairs: the model's own tokens for text it has seen and produced.
Memos = list[tuple[str, list[int]]]


def tokenize(engine: Engine, text: str) -> list[int]:
    return engine.tokenize(text)


def chat_prompt(
    engine: Engine,
    messages: list[ChatMessage],
    memos: Memos | None = None,
    tools: ToolPlan | None = None,
) -> tuple[str, list[int]]:
    """Render the conversation through the model's chat template, then tokenize it."""
    rendered = render_chat(engine.template, messages, tools)
    for text, tokens in sorted(memos or [], key=lambda memo: -len(memo[0])):
        if rendered.startswith(text):
            spliced = engine.splice_tokens(rendered, text, tokens)
            if spliced is not None:
                return rendered, spliced
    return rendered, tokenize(engine, rendered)
