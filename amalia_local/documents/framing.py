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

EXCERPT = "excerpt"  # the kind of a passage given instead of its whole document

# After excerpts, before the question: answer from them, cite them, or say they do not
# answer (a model given unrelated excerpts otherwise answers from what it thinks it knows).
CITE = (
    "Responda apenas com base nos excertos acima e indique a fonte de cada afirmação entre "
    "parênteses, como no nome do excerto (por exemplo: regulamento.pdf, p. 45). Se os "
    "excertos não contiverem a resposta, diga-o."
)


class Named(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def text(self) -> str: ...


def frame(document: Named) -> str:
    name = document.name.replace('"', "'")
    if _is_excerpt(document):
        return f'<excerto fonte="{name}">\n{document.text}\n</excerto>'
    return f'<documento nome="{name}">\n{document.text}\n</documento>'


def compose(question: str, documents: Sequence[Named] = ()) -> str:
    """The user message; just ``question`` when there are no documents."""
    if not documents:
        return question
    cite = [CITE] if any(_is_excerpt(d) for d in documents) else []
    return "\n\n".join([*(frame(d) for d in documents), *cite, question])


def _is_excerpt(document: Named) -> bool:
    return getattr(document, "kind", None) == EXCERPT
