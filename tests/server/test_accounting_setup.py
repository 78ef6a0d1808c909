"""``amalia serve``'s accounting flags as an administrator meets them: a wrong keys file
is one line at start, ``--log-content`` keeps the messages, and a full disk under the
audit log costs nobody an answer. The scripted tiny model: these are about the server,
not the model's words."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from server_helpers import post, serving, wait_for

KEY = "admin-key-0123456789"
WORDS = "Quem escreveu Os Lusíadas?"


@pytest.mark.parametrize(
    ("lines", "line", "words"),
    [
        ("alice\n", 1, "a name and a key"),
        ("# people\nalice k1234567890\nbob\n", 3, "a name and a key"),
        ("alice short\n", 1, "shorter than 8"),
        ("alice k1234567890\nalice k0987654321\n", 2, "'alice' is already"),
        ("alice k1234567890\nbob k1234567890\n", 2, "this key is already"),
        ("alice k1234567890 rpm=3\n", 1, "'rpm=3' is not a limit"),
        ("alice k1234567890 tokens_per_day=-5\n", 1, "whole number above 0"),
        ("alice k1234567890 requests_per_minute=" + "9" * 5000 + "\n", 1, "whole number"),
        ("-x k1234567890\n", 1, "not a valid name"),
    ],
    ids=[
        "no-key",
        "third-line",
        "short",
        "same-name",
        "same-key",
        "not-a-limit",
        "negative",
        "5000-digits",
        "bad-name",
    ],
)
def test_a_wrong_keys_file_is_one_line_naming_file_and_line(
    amalia, tiny_model, tmp_path, lines, line, words
):
    keys = tmp_path / "keys.txt"
    keys.write_text(lines, encoding="utf-8")
    result = amalia("serve", str(tiny_model), "--port", "0", "--api-keys-file", str(keys))
    assert result.returncode == 1, result.stdout
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"{keys}:{line}:" in result.stderr and words in result.stderr
    assert "Traceback" not in result.stderr and not result.stdout


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["--api-keys-file", "{tmp}/missing.txt"], 1, "cannot read the keys file"),
        (["--api-keys-file", "{tmp}/empty.txt"], 1, "holds no keys"),
        (["--audit-log", "{tmp}/no/such/dir/audit.jsonl"], 1, "cannot open the audit log"),
        (["--log-content"], 2, "--log-content needs --audit-log"),
        (["--audit-log", "{tmp}/a.jsonl", "--audit-log-keep", "-1"], 2, "0 or more"),
    ],
)
def test_wrong_accounting_flags_are_one_line(amalia, tiny_model, tmp_path, args, code, words):
    (tmp_path / "empty.txt").write_text("# nobody yet\n\n", encoding="utf-8")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = amalia("serve", str(tiny_model), "--port", "0", *args)
    assert result.returncode == code, result.stderr
    assert result.stderr.count("\n") == 1 and words in result.stderr, result.stderr


def test_a_keys_file_allows_other_addresses(amalia, tiny_model, tmp_path):
    """Without a key the server refuses 0.0.0.0; a keys file is a key."""
    keys = tmp_path / "keys.txt"
    keys.write_text("missing-bit\n", encoding="utf-8")  # wrong, so it stops right there
    result = amalia("serve", str(tiny_model), "--host", "0.0.0.0", "--api-keys-file", str(keys))
    assert "without an API key" not in result.stderr and f"{keys}:1:" in result.stderr


def home(tmp_path: Path) -> Path:
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


def chat(server, key: str) -> dict:
    body = {"model": "tiny-scripted", "messages": [{"role": "user", "content": WORDS}]}
    status, _, reply = post(
        server.url + "/chat/completions",
        json.dumps(body).encode(),
        {"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    assert status == 200, reply
    return reply


def test_log_content_keeps_the_messages_and_the_answer(tiny_model, tmp_path):
    audit = tmp_path / "audit.jsonl"
    args = [str(tiny_model), "--port", "0", "--ctx", "256", "--api-key", KEY]
    with serving(home(tmp_path), [*args, "--audit-log", str(audit), "--log-content"]) as server:
        reply = chat(server, KEY)
        assert wait_for(lambda: audit.exists() and audit.read_text(encoding="utf-8"), 10)
    (line,) = [json.loads(text) for text in audit.read_text(encoding="utf-8").splitlines()]
    assert line["key"] == "default"  # --api-key's name
    assert line["request"]["messages"] == [{"role": "user", "content": WORDS}]
    assert line["answer"] == reply["choices"][0]["message"]["content"]
    assert audit.stat().st_mode & 0o077 == 0  # private: it holds what people asked


def test_a_full_disk_under_the_audit_log_costs_no_answer(tiny_model, tmp_path):
    dev_full = Path("/dev/full")
    if not dev_full.exists():
        pytest.skip("no /dev/full here")
    args = [str(tiny_model), "--port", "0", "--ctx", "256", "--api-key", KEY]
    with serving(home(tmp_path), [*args, "--audit-log", str(dev_full)]) as server:
        for _ in range(3):
            chat(server, KEY)

        def lost() -> float:
            request = urllib.request.Request(
                server.root + "/metrics", headers={"Authorization": f"Bearer {KEY}"}
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read().decode()
            for family in text_string_to_metric_families(text):
                for sample in family.samples:
                    if sample.name == "amalia_audit_entries_lost_total":
                        return sample.value
            raise AssertionError("no amalia_audit_entries_lost_total")

        assert wait_for(lambda: lost() >= 3, timeout=10)
        warnings = [line for line in server.stderr().splitlines() if "audit log" in line]
        assert len(warnings) == 1 and "cannot write" in warnings[0], warnings
