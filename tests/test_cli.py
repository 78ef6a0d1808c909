"""The ``amalia`` CLI end to end, in a subprocess, on the generated tiny model."""

from __future__ import annotations

import json
from pathlib import Path

from tiny_gguf import ANSWER_TEXT, BOS, IM_END, vocabulary

GREEDY = ("--temperature", "0", "--ctx", "256")


def test_run_streams_answer_to_stdout(amalia, tiny_model):
    result = amalia("run", str(tiny_model), "Olá", *GREEDY)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ANSWER_TEXT + "\n"
    assert result.stderr == ""  # llama.cpp's log went to the log file, not the terminal


def test_run_reads_prompt_from_stdin(amalia, tiny_model):
    result = amalia("run", str(tiny_model), *GREEDY, stdin="Qual é a capital de Portugal?\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ANSWER_TEXT + "\n"


def test_run_json_parses(amalia, tiny_model):
    result = amalia("run", str(tiny_model), "Olá", "--json", "--seed", "3", *GREEDY)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["text"] == ANSWER_TEXT
    assert payload["model"] == "tiny-scripted"
    stats = payload["stats"]
    assert stats["stop_reason"] == "end"
    assert stats["generated_tokens"] == 12
    assert stats["prompt_tokens"] == stats["prompt_tokens_evaluated"] > 0
    assert stats["generation_tokens_per_second"] > 0
    assert payload["settings"]["n_ctx"] == 256


def test_llama_log_goes_to_file_and_verbose_shows_it(amalia, tiny_model, cli_env):
    log_file = Path(cli_env["AMALIA_HOME"]) / "logs" / "llama.log"
    quiet = amalia("run", str(tiny_model), "Olá", *GREEDY)
    assert quiet.stderr == ""
    assert "llama_model_loader" in log_file.read_text(encoding="utf-8")
    loud = amalia("run", str(tiny_model), "Olá", "--verbose", *GREEDY)
    assert loud.returncode == 0
    assert "llama_model_loader" in loud.stderr
    assert loud.stdout == ANSWER_TEXT + "\n"


def test_max_tokens(amalia, tiny_model):
    result = amalia("run", str(tiny_model), "Olá", "--max-tokens", "2", "--json", *GREEDY)
    payload = json.loads(result.stdout)
    assert payload["text"] == "Ol"
    assert payload["stats"]["stop_reason"] == "length"


def test_usage_errors_are_one_line_exit_2(amalia, tiny_model):
    cases = [
        (("run",), "the following arguments are required: MODEL (see 'amalia run --help')"),
        (("run", str(tiny_model), "Olá", "--ctx", "0"), "--ctx must be a positive number"),
        (
            ("run", str(tiny_model), "--temperature", "x"),
            "argument --temperature: invalid float value: 'x' (see 'amalia run --help')",
        ),
    ]
    for args, message in cases:
        result = amalia(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr == f"amalia: {message}\n", args


def test_unknown_command_is_one_line(amalia):
    result = amalia("fly")
    assert result.returncode == 2
    assert result.stderr.startswith("amalia: argument COMMAND: invalid choice: 'fly'")
    assert result.stderr.endswith("(see 'amalia --help')\n")
    assert result.stderr.count("\n") == 1


def test_empty_prompt_is_a_usage_error(amalia, tiny_model):
    result = amalia("run", str(tiny_model), stdin="  \n")
    assert result.returncode == 2
    assert result.stderr == "amalia: the prompt is empty\n"


def test_info_text_and_json(amalia, tiny_model):
    text = amalia("info", str(tiny_model), "--ctx", "512")
    assert text.returncode == 0, text.stderr
    assert "Architecture               llama" in text.stdout
    assert "RAM at 512 tokens" in text.stdout
    assert "eos=4 '<|im_end|>'" in text.stdout
    data = json.loads(amalia("info", str(tiny_model), "--ctx", "512", "--json").stdout)
    assert data["architecture"] == "llama"
    assert data["context_length"] == 512
    assert data["chat_template"] is True
    assert data["tensor_types"] == {"F32": data["parameters"]}
    assert (
        data["ram"]["total"]
        == data["ram"]["weights"] + data["ram"]["kv_cache"] + data["ram"]["compute"]
    )
    # 2 layers x 2 KV heads x (88 + 88) dims x 2 bytes x 512 positions
    assert data["ram"]["kv_cache"] == 2 * 2 * 176 * 2 * 512


def test_info_in_portuguese(amalia, tiny_model):
    result = amalia("info", str(tiny_model), "--lang", "pt")
    assert "Arquitetura" in result.stdout
    assert "Architecture" not in result.stdout


def test_bench_json(amalia, tiny_model):
    result = amalia(
        "bench", str(tiny_model), "-p", "64", "-n", "16", "-r", "3", "--json", "--ctx", "256"
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    tests = {r["test"]: r for r in data["results"]}
    assert set(tests) == {"pp64", "tg16"}
    for r in tests.values():
        assert len(r["samples"]) == 3
        assert r["mean"] > 0
    assert data["backend"] == "CPU"


def test_bench_table(amalia, tiny_model):
    result = amalia("bench", str(tiny_model), "-p", "32", "-n", "8", "-r", "2", "--ctx", "256")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("| model")
    assert any("pp32" in line and "±" in line for line in lines)
    assert any("tg8" in line for line in lines)


def test_python_dash_m_and_version(amalia):
    result = amalia("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("amalia-local ")


def test_tokenize_prints_ids_and_pieces(amalia, tiny_model):
    tokens, _, _ = vocabulary()
    olá = [tokens.index(c) for c in "Olá"]
    result = amalia("tokenize", str(tiny_model), "Olá", "--json")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # llama.cpp's log went to the log file
    assert json.loads(result.stdout) == {"ids": [BOS, *olá], "pieces": ["<s>", "O", "l", "á"]}
    table = amalia("tokenize", str(tiny_model), "--no-bos", stdin="Olá")
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines() == [
        " id  piece",
        *(f"{i:>3}  {json.dumps(c, ensure_ascii=False)}" for i, c in zip(olá, "Olá", strict=True)),
        "3 tokens",
    ]
    pt = amalia("tokenize", str(tiny_model), "Olá", "--lang", "pt")
    assert pt.stdout.startswith(" id  peça\n")


def test_tokenize_special_tokens_only_with_special(amalia, tiny_model):
    result = amalia("tokenize", str(tiny_model), "<|im_end|>", "--no-bos", "--json")
    plain = json.loads(result.stdout)
    assert len(plain["ids"]) > 1 and IM_END not in plain["ids"]
    special = amalia("tokenize", str(tiny_model), "<|im_end|>", "--no-bos", "--special", "--json")
    assert json.loads(special.stdout) == {"ids": [IM_END], "pieces": ["<|im_end|>"]}


def test_tokenize_bad_input_is_one_line(amalia, tiny_model, tmp_path):
    missing = amalia("tokenize", str(tmp_path / "nope.gguf"), "Olá")
    assert missing.returncode != 0 and missing.stderr.count("\n") == 1, missing.stderr
    assert "Traceback" not in missing.stderr
