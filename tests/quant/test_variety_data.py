"""The pt-PT / pt-BR data: enough pairs, each differing only where it says it does."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from quant.variety_data import CATEGORIES, Lexicon, load_pairs, load_prompts, words

DATA = Path(__file__).resolve().parents[2] / "quant" / "data"
PAIRS_FILE = DATA / "variety_pairs.jsonl"
LEXICON_FILE = DATA / "variety_lexicon.json"
PROMPTS_FILE = DATA / "variety_prompts.txt"

# Words and hyphenated words are one token each ("disse-me"), punctuation one each.
_TOKEN = re.compile(r"\w+(?:-\w+)*|[^\w\s]")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def only_listed_differences(pt: str, br: str, markers: list[list[str]]) -> bool:
    """True if ``pt`` and ``br`` are the same token sequence except at the markers, in order.

    Searches the shortest shared run before each marker; the text between markers and
    after the last one must be identical on both sides.
    """
    a, b = tokens(pt), tokens(br)
    i = j = 0
    for mark_pt, mark_br in markers:
        m, n = tokens(mark_pt), tokens(mark_br)
        for gap in range(0, min(len(a) - i, len(b) - j) + 1):
            if a[i : i + gap] != b[j : j + gap]:
                return False
            if a[i + gap : i + gap + len(m)] == m and b[j + gap : j + gap + len(n)] == n:
                i, j = i + gap + len(m), j + gap + len(n)
                break
        else:
            return False
    return a[i:] == b[j:]


@pytest.fixture(scope="module")
def raw_pairs() -> list[dict]:
    raw = PAIRS_FILE.read_bytes().decode("utf-8")  # strict: fails on invalid UTF-8
    return [json.loads(line) for line in raw.splitlines()]


def test_the_checker_itself_rejects_unlisted_differences() -> None:
    assert only_listed_differences("A [x] b c.", "A [y] b c.", [["x", "y"]])
    assert only_listed_differences("Vi o autocarro.", "Vi o ônibus.", [["autocarro", "ônibus"]])
    # an extra difference outside the markers, a wrong order, a missing marker
    bus = [["autocarro", "ônibus"]]
    assert not only_listed_differences("Vi o autocarro.", "Vi um ônibus.", bus)
    assert not only_listed_differences("a b c", "x b y", [["c", "y"], ["a", "x"]])
    assert not only_listed_differences("a b c", "x b y", [["a", "x"]])
    assert only_listed_differences("jogam à bola", "jogam bola", [["à", ""]])


def test_counts_and_categories(raw_pairs: list[dict]) -> None:
    assert len(raw_pairs) >= 400
    counts = Counter(p["category"] for p in raw_pairs)
    assert set(counts) == set(CATEGORIES)
    assert min(counts.values()) >= 40, counts
    assert len(load_pairs()) == len(raw_pairs)  # the loader keeps every pair


def test_text_is_clean_utf8_nfc(raw_pairs: list[dict]) -> None:
    for p in raw_pairs:
        for side in ("pt_PT", "pt_BR"):
            text = p[side]
            assert unicodedata.normalize("NFC", text) == text, p["id"]
            assert text == text.strip() and "  " not in text, p["id"]
            assert text[-1] in ".?!", p["id"]


def test_no_duplicates(raw_pairs: list[dict]) -> None:
    for key in ("id", "pt_PT", "pt_BR"):
        values = [p[key] for p in raw_pairs]
        assert len(values) == len(set(values)), [v for v, n in Counter(values).items() if n > 1]


def test_every_pair_differs_only_in_its_listed_markers(raw_pairs: list[dict]) -> None:
    bad = [
        p["id"]
        for p in raw_pairs
        if not p["markers"]
        or p["pt_PT"] == p["pt_BR"]
        or not only_listed_differences(p["pt_PT"], p["pt_BR"], p["markers"])
    ]
    assert bad == []


def test_markers_are_tight(raw_pairs: list[dict]) -> None:
    """A marker's two sides differ at both ends (no shared word padded into it)."""
    for p in raw_pairs:
        for mark_pt, mark_br in p["markers"]:
            m, n = tokens(mark_pt), tokens(mark_br)
            assert m != n, p["id"]
            if m and n:
                assert m[0] != n[0] and m[-1] != n[-1], (p["id"], mark_pt, mark_br)


def test_prompts() -> None:
    prompts = load_prompts()
    assert len(prompts) == 40 and len(set(prompts)) == 40
    assert all(len(words(p)) >= 5 for p in prompts)


def test_lexicon_size_and_coverage(raw_pairs: list[dict]) -> None:
    """Every form is attested in our data on its own side and never on the other side."""
    lexicon = Lexicon.load()
    assert len(lexicon.forms["pt_PT"]) + len(lexicon.forms["pt_BR"]) >= 150
    prompts = "\n".join(load_prompts())
    own = {
        "pt_PT": "\n".join(p["pt_PT"] for p in raw_pairs) + "\n" + prompts,
        "pt_BR": "\n".join(p["pt_BR"] for p in raw_pairs),
    }
    other = {"pt_PT": own["pt_BR"], "pt_BR": "\n".join(p["pt_PT"] for p in raw_pairs)}
    for variety in ("pt_PT", "pt_BR"):
        for form, pattern in lexicon.compiled_forms(variety):
            assert pattern.search(own[variety]), f"{variety} form never used: {form}"
            assert not pattern.search(other[variety]), f"{variety} form on the other side: {form}"
        for name, pattern in lexicon.patterns[variety].items():
            assert pattern.search(own[variety]), f"{variety} pattern {name} matches nothing"
            hit = pattern.search(other[variety])
            assert hit is None, f"{variety} pattern {name} matches {hit and hit.group(0)!r}"


def test_progressive_patterns_find_every_progressive_pair(raw_pairs: list[dict]) -> None:
    """The progressive is regular enough for the patterns to be complete on our data (the
    clitic patterns are partial by design: a noun subject before ``se`` is ambiguous)."""
    lexicon = Lexicon.load()
    for p in raw_pairs:
        if p["category"] == "progressive":
            assert lexicon.patterns["pt_PT"]["progressive"].search(p["pt_PT"]), p["id"]
            assert lexicon.patterns["pt_BR"]["progressive"].search(p["pt_BR"]), p["id"]


# Written for this test: everyday Brazilian Portuguese, as a generated answer might read.
BRAZILIAN = (
    "Ontem eu fui na prefeitura para pegar o comprovante de residência. Tinha uma fila "
    "enorme e o ônibus atrasou, então cheguei em casa só à noite. Minha vizinha me disse "
    "que o atendimento está melhorando, mas eu ainda estou esperando a resposta. Você sabe "
    "se dá para fazer o agendamento pelo celular? Se você tiver o número de contato da "
    "seção de obras, me passa, por favor. O pessoal da equipe de coleta de lixo passa todo "
    "dia de manhã, e as crianças jogam bola na calçada. Me lembro que o aluguel era mais "
    "barato antes. Vou me inscrever no curso de informática."
)


def test_counts_on_running_text_point_the_right_way() -> None:
    """The project's European evaluation text has no pt-BR marker; a Brazilian paragraph
    has no pt-PT marker; each has plenty of its own."""
    lexicon = Lexicon.load()
    european = (DATA / "eval_pt.txt").read_text(encoding="utf-8")
    counts = lexicon.count(european)
    assert counts["pt_BR"] == 0 and 1000 * counts["pt_PT"] / len(words(european)) > 10
    counts = lexicon.count(BRAZILIAN)
    assert counts["pt_PT"] == 0 and counts["pt_BR"] >= 12, counts
