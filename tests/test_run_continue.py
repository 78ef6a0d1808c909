"""``amalia run`` keeps conversations: --continue and --conversation in a new process
evaluate only the new tokens (the saved KV state holds the rest), --no-save saves none."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from user_process import user_cwd

from amalia_local.conversations import ConversationStore

GREEDY = ("--temperature", "0", "--ctx", "512", "--json")


def run_json(amalia, *args: str) -> dict:
    result = amalia("run", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def saved(cli_env) -> ConversationStore:
    return ConversationStore.in_dir(Path(cli_env["AMALIA_HOME"]) / "data")


def test_continue_in_a_new_process_evaluates_only_the_new_tokens(amalia, tiny_model, cli_env):
    model = str(tiny_model)
    first = run_json(amalia, model, "Quantos dias tem uma semana? Diz-me tudo.", *GREEDY)
    conversation = first["conversation_id"]
    assert isinstance(conversation, int)
    seen = first["stats"]["prompt_tokens"] + first["stats"]["generated_tokens"]

    second = run_json(amalia, model, "E um ano?", "--continue", *GREEDY)
    assert second["conversation_id"] == conversation
    stats = second["stats"]
    assert stats["prompt_tokens_restored"] == seen
    # llama.cpp's counter: the new question, its headers and the end of the last answer.
    assert stats["prompt_tokens_evaluated"] == stats["prompt_tokens"] - seen
    assert stats["prompt_tokens_evaluated"] < stats["prompt_tokens"] // 2

    third = run_json(amalia, model, "E um mês?", "--conversation", str(conversation), *GREEDY)
    assert third["conversation_id"] == conversation
    assert third["stats"]["prompt_tokens_restored"] > seen

    store = saved(cli_env)
    messages = store.get(conversation).messages
    store.close()
    assert [m.role for m in messages] == ["user", "assistant"] * 3
    assert messages[-1].content == third["text"] and messages[-1].stop_reason is not None


def test_no_save_leaves_no_conversation(amalia, tiny_model, cli_env):
    first = run_json(amalia, str(tiny_model), "Olá", "--no-save", *GREEDY)
    assert first["conversation_id"] is None
    store = saved(cli_env)
    assert store.list() == []
    store.close()
    again = amalia("run", str(tiny_model), "Olá", "--continue", *GREEDY)
    assert again.returncode == 1
    assert again.stderr.strip() == "amalia: there is no saved conversation to continue"


def test_unknown_conversation_is_one_line(amalia, tiny_model):
    result = amalia("run", str(tiny_model), "Olá", "--conversation", "42", *GREEDY)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "amalia: there is no saved conversation 42 (the chat lists them)"
    ]
    both = amalia("run", str(tiny_model), "Olá", "--continue", "--conversation", "1")
    assert both.returncode == 2 and "not allowed with argument" in both.stderr


@pytest.mark.smollm
def test_ctrl_c_stops_a_long_prompt_evaluation_quickly(smollm, cli_env, tmp_path):
    question = "Resume este texto sobre Lisboa, as suas ruas e o rio. " * 160
    process = subprocess.Popen(
        [sys.executable, "-m", "amalia_local", "run", str(smollm), "-", "--ctx", "4096"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env,
        cwd=user_cwd(cli_env),
    )
    process.stdin.write(question)
    process.stdin.close()
    log = Path(cli_env["AMALIA_HOME"]) / "logs" / "llama.log"
    deadline = time.monotonic() + 120
    # Wait until the prompt is being evaluated (the model is loaded and the context made).
    while "llama_context" not in (log.read_text(errors="replace") if log.exists() else ""):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    time.sleep(1.0)
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    process.wait(timeout=30)
    stopped_after = time.monotonic() - sent
    stderr = process.stderr.read()
    # Against a hang only: the speed is tests/benchmarks/bench_stop.py's figure.
    assert stopped_after < 5, stopped_after  # the stop, plus saving and exiting
    assert process.returncode == 130
    assert stderr.strip().endswith("interrupted")
    store = saved(cli_env)
    (summary,) = store.list()
    last = store.get(summary.id).messages[-1]
    store.close()
    assert last.stop_reason == "cancelled"
    assert last.content == "", "stopped in the prompt: not one token of the answer"


def test_continue_without_system_keeps_the_conversations_own(amalia, tiny_model, cli_env):
    """Before, --continue rendered the default system prompt instead of the one the
    conversation was held with: the whole history was evaluated again (restored 0)."""
    model = str(tiny_model)
    own = "Responde sempre numa frase curta."
    first = run_json(amalia, model, "Quantos dias tem uma semana?", "--system", own, *GREEDY)
    seen = first["stats"]["prompt_tokens"] + first["stats"]["generated_tokens"]

    second = run_json(amalia, model, "E um ano?", "--continue", *GREEDY)
    stats = second["stats"]
    assert stats["prompt_tokens_restored"] == seen
    assert stats["prompt_tokens_evaluated"] == stats["prompt_tokens"] - seen

    # --system replaces it, and the replacement is what the next --continue keeps.
    third = run_json(amalia, model, "E um mês?", "--continue", "--system", "Sê breve.", *GREEDY)
    assert third["stats"]["prompt_tokens_restored"] < seen
    store = saved(cli_env)
    conversation = store.get(first["conversation_id"])
    store.close()
    assert conversation.system_prompt == "Sê breve."
    fourth = run_json(amalia, model, "E um dia?", "--continue", *GREEDY)
    before = third["stats"]["prompt_tokens"] + third["stats"]["generated_tokens"]
    assert fourth["stats"]["prompt_tokens_restored"] == before
