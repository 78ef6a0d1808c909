"""Retrieval quality, measured: 66 questions people would ask about three generated
165-article regulations (tests/retrieval_set.py), each answered by one article only.

Measured when written (snowball stems, accents folded, FTS5 BM25, prefixes from four
letters): the right passage is among those the default budget gives for 62 of 66
questions (93.9 %), first for 55 (83.3 %). The floors below leave a margin of about
four questions: a change to the split, the stems or the ranking that loses more than
that fails here.
"""

from __future__ import annotations

from pathlib import Path

from retrieval_set import REGULATIONS, measure

GIVEN_FLOOR = 0.88  # measured 0.939
FIRST_FLOOR = 0.77  # measured 0.833


def test_the_set_is_what_the_issue_asks_for() -> None:
    from retrieval_set import ARTICLES, build

    assert len(REGULATIONS) >= 3 and ARTICLES >= 150
    questions = [q for r in REGULATIONS for q in build(r)[1]]
    assert len(questions) >= 60
    assert len({(q.file, q.article) for q in questions}) == len(questions)
    # Not copied: no question shares a run of four words with its article.
    for regulation in REGULATIONS:
        lines, asked = build(regulation)
        text = " ".join(lines).lower()
        for q in asked:
            words = q.text.lower().rstrip("?").split()
            runs = {" ".join(words[i : i + 4]) for i in range(len(words) - 3)}
            assert not any(run in text for run in runs), q.text


def test_recall_of_the_right_passage_within_the_default_budget(tmp_path: Path) -> None:
    outcomes = measure(tmp_path, tmp_path / "cache")
    given = sum(o.given for o in outcomes) / len(outcomes)
    first = sum(o.rank == 1 for o in outcomes) / len(outcomes)
    missed = [o.question.text for o in outcomes if not o.given]
    assert given >= GIVEN_FLOOR, (given, missed)
    assert first >= FIRST_FLOOR, first
