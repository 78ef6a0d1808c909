"""The variety measure on a real model (SmolLM2-135M): exact, symmetric, reported."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import llama_cpp
import numpy as np
import pytest

from amalia_local.engine import llama_private
from amalia_local.engine.llama_log import LlamaLogSink
from amalia_local.engine.tokenizer import for_llama
from quant.evaluate import log_softmax, open_for_logits
from quant.variety import CONTEXT, PAIR_CTX, PairScore, Share, Variety, score_pairs
from quant.variety_data import CATEGORIES, first_per_category, load_pairs
from quant.variety_report import TITLE, advice

pytestmark = pytest.mark.smollm
PAIRS = first_per_category(load_pairs(), 3)  # 18 pairs, every category


def _score(model: Path, log_dir: Path, pairs: list) -> Variety:
    with (
        LlamaLogSink(log_dir / "llama.log") as log,
        open_for_logits(model, PAIR_CTX, 1, log) as llm,
    ):
        return score_pairs(llm, pairs)


def test_swapping_the_sides_turns_p_into_one_minus_p(smollm: Path, tmp_path: Path) -> None:
    plain = _score(smollm, tmp_path, PAIRS)
    swapped = _score(smollm, tmp_path, [p.swapped() for p in PAIRS])
    assert 0 < plain.overall.share_pt < 1  # not a degenerate case
    # exactly complementary counts; the shares then agree to the last bit of a division
    for a, b in [(plain.overall, swapped.overall)] + [
        (plain.categories[c], swapped.categories[c]) for c in CATEGORIES
    ]:
        assert b.wins_pt == a.n - a.wins_pt
        assert b.share_pt == pytest.approx(1 - a.share_pt, rel=1e-15, abs=1e-15)
        assert b.mean_log_odds == -a.mean_log_odds
    for a, b in zip(plain.pairs, swapped.pairs, strict=True):
        assert (a.logp_pt, a.logp_br) == (b.logp_br, b.logp_pt), a.id


def test_two_runs_give_the_same_scores(smollm: Path, tmp_path: Path) -> None:
    first = _score(smollm, tmp_path, PAIRS)
    second = _score(smollm, tmp_path, PAIRS)
    assert first.pairs == second.pairs
    assert first.overall == second.overall and first.categories == second.categories


def test_scores_are_the_total_log_probability_after_the_context(
    smollm: Path, tmp_path: Path
) -> None:
    """Each sentence again from an empty cache, context + sentence in one evaluation."""
    variety = _score(smollm, tmp_path, PAIRS[:4])
    llm = llama_cpp.Llama(str(smollm), n_ctx=PAIR_CTX, logits_all=True, verbose=False)
    try:
        tokenizer = for_llama(llm)
        context = tokenizer.tokenize(CONTEXT, add_bos=True, special=False)
        for pair, score in zip(PAIRS[:4], variety.pairs, strict=True):
            for text, ours in ((pair.pt_PT, score.logp_pt), (pair.pt_BR, score.logp_br)):
                tokens = context + tokenizer.tokenize(text, add_bos=False, special=False)
                llm.reset()
                llm.eval(tokens)
                rows = log_softmax(np.asarray(llama_private.logits(llm)[: len(tokens) - 1]))
                expected = sum(rows[i - 1, tokens[i]] for i in range(len(context), len(tokens)))
                assert ours == pytest.approx(expected, abs=2e-3), pair.id
    finally:
        llm.close()


def test_share_counts_ties_as_half() -> None:
    scores = [PairScore(str(i), "syntax", lp, 0.0) for i, lp in enumerate([1.0, 0.0, -2.0, 3.0])]
    share = Share.of(scores)
    assert share.share_pt == pytest.approx(2.5 / 4) and share.mean_log_odds == pytest.approx(0.5)


def _variety(share: float, by_category: dict[str, float] | None = None) -> Variety:
    cats = {c: Share(10, (by_category or {}).get(c, share), 0.0) for c in CATEGORIES}
    return Variety(Share(60, share, 0.0), cats, tokens_evaluated=0, seconds=0.0)


def test_advice_follows_the_drift() -> None:
    source = _variety(0.95)
    assert "safe to use" in advice("Q8_0", _variety(0.945), source)
    slight = advice("Q4_K_M", _variety(0.93, {"clitic": 0.80}), source)
    assert "slightly" in slight and "-2.0 points" in slight and "clitic" in slight
    assert "choose a larger file" in advice("Q3_K_M", _variety(0.90), source)
    assert "baseline" in advice("source", source, source)
    assert "system prompt" in advice("source", _variety(0.6), None)


def test_report_json_and_card_carry_the_section_for_every_rung(
    smollm: Path, tmp_path: Path, quant_cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    outdir = tmp_path / "out"
    result = quant_cli(str(smollm), "--types", "Q8_0,Q3_K_M", "--outdir", str(outdir),
                       "--allow-requantize", "--ctx", "128", "--reps", "0", "--threads", "1",
                       "--variety-sample", "3", "2", "--variety-tokens", "16", "--quiet",
                       "--eval-file", str(_eval_text(tmp_path)), timeout=900)  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads((outdir / "report.json").read_text(encoding="utf-8"))
    source = report["rungs"][0]["variety"]
    for rung in report["rungs"]:
        v = rung["variety"]
        assert v["overall"]["n"] == 18 and set(v["categories"]) == set(CATEGORIES)
        assert 0 <= v["overall"]["share_pt"] <= 1
        expected = (v["overall"]["share_pt"] - source["overall"]["share_pt"]) * 100
        assert v["drift_pp"] == pytest.approx(expected)
        assert v["generation"]["prompts"] == 2 and v["generation"]["tokens"] > 0
        assert v["generation"]["words"] > 0 and v["advice"].endswith(".")
    md = (outdir / "report.md").read_text(encoding="utf-8")
    card = (outdir / "README.md").read_text(encoding="utf-8")
    for text in (md, card):
        assert f"## {TITLE}\n" in text
        for label in ("Q4_1 (source)", "Q8_0", "Q3_K_M"):
            assert f"### {TITLE}: {label}\n" in text, label
            assert f"| {label} | " in text.split(f"## {TITLE}")[1]


def _eval_text(tmp_path: Path) -> Path:
    text = (Path(__file__).resolve().parents[2] / "quant" / "data" / "eval_pt.txt").read_text(
        encoding="utf-8"
    )
    path = tmp_path / "held_out.txt"
    path.write_text(text[:800], encoding="utf-8")
    return path


def test_only_variety_on_any_gguf(
    smollm: Path, tmp_path: Path, quant_cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    """No quantization, no perplexity: the section on stdout, variety.md/json on disk."""
    outdir = tmp_path / "v"
    result = quant_cli(str(smollm), "--only", "variety", "--outdir", str(outdir), "--quiet",
                       "--variety-sample", "2", "1", "--variety-tokens", "8",
                       "--threads", "1")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"### {TITLE}: SmolLM2-135M-Instruct.Q4_1.gguf" in result.stdout
    assert sorted(p.name for p in outdir.iterdir()) == ["variety.json", "variety.md"]
    data = json.loads((outdir / "variety.json").read_text(encoding="utf-8"))
    assert data["overall"]["n"] == 12 and data["generation"]["prompts"] == 1
    assert (outdir / "variety.md").read_text(encoding="utf-8").startswith(f"# {TITLE}")


def test_only_variety_bad_input_is_one_line(
    tmp_path: Path, quant_cli: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    result = quant_cli(str(tmp_path / "nope.gguf"), "--only", "variety")
    assert result.returncode == 1
    assert result.stderr.strip() == f"error: model not found: {tmp_path / 'nope.gguf'}"
    fake = tmp_path / "fake.gguf"
    fake.write_text("not a model", encoding="utf-8")
    result = quant_cli(str(fake), "--only", "variety")
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
