"""Documents and a question as one user message: each document's name, its text, then
the question.

Putting the question after the text means the model reads it with the document fresh,
and ending on the question is what instruction-tuned models (AMALIA included) answer
best from. Tags mark where a document ends, so text that looks like a question inside
it is not taken for the user's. The form never changes between turns or releases of a
conversation: the same documents and question always render the same tokens, which is
what lets a saved KV state be found again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Named(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def text(self) -> str: ...


def frame(document: Named) -> str:
    name = document.name.replace('"', "'")
    return f'<documento nome="{name}">\n{document.text}\n</documento>'


def compose(question: str, documents: Sequence[Named] = ()) -> str:
    """The user message; just ``question`` when there are no documents."""
    if not documents:
        return question
    return "\n\n".join([*(frame(d) for d in documents), question])
