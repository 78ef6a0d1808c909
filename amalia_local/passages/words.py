"""Words as the search compares them: accents folded, lower case, Portuguese stems.

``licença``, ``licenças`` and ``licenca`` all become ``licenc``: the accent is folded
first (people type questions without accents; PDFs keep them), then the Snowball
Portuguese stemmer removes the inflection (``prazos`` -> ``praz``). Folding before
stemming keeps the two sides alike: the stemmer's rules for ``-ção`` would otherwise
treat ``urbanização`` and ``urbanizacao`` differently. Snowball is pure Python and
maintained; a word's stem is kept once computed (a document repeats its vocabulary).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_WORD = re.compile(r"\w+", re.UNICODE)

# Words that say nothing about what is asked; a question made only of them matches
# nothing rather than everything.
_STOPWORDS_TEXT = """a ao aos as à às com como da das de do dos e é em entre era essa esse esta este
    foi for há isso isto já la lhe lhes mais mas me mesmo meu minha na nas nem no nos
    nós num numa o os ou para pela pelas pelo pelos por qual quais quando que quem se
    sem ser seu seus sua suas são só também te tem têm ter um uma umas uns vos é eu ele
    ela eles elas onde qual quanto quantos quanta quantas pode podem posso deve devem
    sobre até após está estão ser sido será artigo n"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
_FOLDED_STOPWORDS = frozenset(
    unicodedata.normalize("NFD", w).encode("ascii", "ignore").decode() for w in STOPWORDS
)


def fold(word: str) -> str:
    """Lower case without accents: ``Licença`` -> ``licenca``."""
    decomposed = unicodedata.normalize("NFD", word.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=1)
def _stemmer():
    import snowballstemmer

    return snowballstemmer.stemmer("portuguese")


@lru_cache(maxsize=100_000)
def stem(folded: str) -> str:
    return _stemmer().stemWord(folded)


def words(text: str) -> list[str]:
    """The folded words of ``text``, in order."""
    return [fold(w) for w in _WORD.findall(text)]


def stems(text: str, *, keep_stopwords: bool = True) -> list[str]:
    """The stems of ``text``'s words; numbers are kept as they are."""
    out = []
    for word in words(text):
        if not keep_stopwords and word in _FOLDED_STOPWORDS:
            continue
        out.append(word if word.isdigit() else stem(word))
    return out
