"""From an API request to prompt tokens, with the engine's own template and tokenizer.

The one place the server turns text into tokens, so exact tokenization (the engine's
single tokenization function) reaches ``serve`` by changing this module alone.
"""

from __future__ import annotations

from amalia_local.engine import Engine, Message
from amalia_local.server.schemas import ChatMessage

# "developer" is the newer OpenAI name for a system message; templates know "system".
_ROLES = {"developer": "system"}


def tokenize(engine: Engine, text: str) -> list[int]:
    return engine.tokenize(text)


def chat_prompt(engine: Engine, messages: list[ChatMessage]) -> list[int]:
    """Render the conversation through the model's chat template, then tokenize it."""
    rendered = engine.template.render(
        [Message(_ROLES.get(m.role, m.role), m.text()) for m in messages],
        add_generation_prompt=True,
    )
    return tokenize(engine, rendered)
