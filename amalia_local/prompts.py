"""Default system prompts.

Without a system prompt AMALIA invents who it is (a peer's finding on the released
weights), so AMALIA files get one that states plainly what the assistant is. It is in
European Portuguese whatever the UI language: that is the language the model serves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the client mode reads the prompt text without gguf and numpy
    from amalia_local.model_file import ModelFile

AMALIA_SYSTEM_PROMPT = (
    "És o AMALIA, um modelo de linguagem aberto desenvolvido em Portugal para o português "
    "europeu. Estás a funcionar localmente no computador do utilizador, sem ligação à "
    "internet. Responde em português europeu, de forma clara, correta e útil. Se não "
    "souberes alguma coisa, diz que não sabes em vez de inventar."
)


def is_amalia(model: ModelFile) -> bool:
    names = (model.name, model.path.name, str(model.get("general.basename") or ""))
    return any("amalia" in n.lower() for n in names)


def default_system_prompt(model: ModelFile) -> str | None:
    return AMALIA_SYSTEM_PROMPT if is_amalia(model) else None
