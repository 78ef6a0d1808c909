"""The accounting's parts on their own: sliding windows on a clock the test moves, the
audit log's rotation on a real directory, the keyring's lookup and reload."""

from __future__ import annotations

import json
import logging

import pytest

from amalia_local.server.audit import AuditLog
from amalia_local.server.keys import KeyLimits, Keyring, KeysFileError
from amalia_local.server.limits import DAY_S, Limiter


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_requests_per_minute_slide():
    clock = Clock()
    limiter = Limiter(clock)
    limits = KeyLimits(requests_per_minute=2)
    assert limiter.admit("a", limits) is None
    clock.now += 20
    assert limiter.admit("a", limits) is None
    clock.now += 10
    refused = limiter.admit("a", limits)
    assert refused is not None and refused.kind == "requests" and refused.retry_after == 30
    assert limiter.admit("b", limits) is None  # per key
    clock.now += 30  # the first request leaves the minute
    assert limiter.admit("a", limits) is None
    assert limiter.admit("a", limits) is not None


def test_tokens_per_day_slide_and_say_when_there_is_room():
    clock = Clock()
    limiter = Limiter(clock)
    limits = KeyLimits(tokens_per_day=120)
    assert limiter.admit("a", limits) is None
    limiter.spend("a", 100)
    clock.now += 3600
    assert limiter.admit("a", limits) is None  # 100 < 120: it may start
    limiter.spend("a", 50)
    clock.now += 60
    refused = limiter.admit("a", limits)
    assert refused is not None and refused.kind == "tokens"
    # 150 spent; 120 reached until the first 100 leave the day (its minute, a day later)
    first_minute = 1_000_000.0 - 1_000_000.0 % 60
    assert refused.retry_after == pytest.approx(first_minute + DAY_S - clock.now, abs=1)
    clock.now = first_minute + DAY_S
    assert limiter.admit("a", limits) is None  # 50 left in the day


def test_a_key_without_limits_is_never_counted():
    limiter = Limiter(Clock())
    for _ in range(1000):
        assert limiter.admit("a", KeyLimits()) is None
    limiter.spend("a", 10**9)
    assert limiter.admit("a", KeyLimits()) is None


def entry(n: int) -> dict:
    return {"time": 1_800_000_000.0 + n, "key": "alice", "n": n, "pad": "x" * 40}


def test_the_audit_log_rotates_by_size_and_keeps_n_files(tmp_path):
    path = tmp_path / "audit.jsonl"
    audit = AuditLog(path, max_bytes=400, keep=2)
    for n in range(40):
        audit.write(entry(n))
    audit.close()
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"]
    seen = []
    for name in ("audit.jsonl.2", "audit.jsonl.1", "audit.jsonl"):
        text = (tmp_path / name).read_text(encoding="utf-8")
        assert len(text.encode()) <= 400
        seen += [json.loads(line)["n"] for line in text.splitlines()]
    assert seen == sorted(seen) and seen[-1] == 39  # the newest kept, in order, none twice
    assert json.loads(path.read_text().splitlines()[0])["time"].endswith("Z")
    assert audit.lost == 0


def test_keep_zero_starts_the_file_again(tmp_path):
    path = tmp_path / "audit.jsonl"
    audit = AuditLog(path, max_bytes=300, keep=0)
    for n in range(20):
        audit.write(entry(n))
    audit.close()
    assert [f.name for f in tmp_path.iterdir()] == ["audit.jsonl"]
    assert len(path.read_bytes()) <= 300


def test_the_keyring_names_the_key_and_keeps_its_keys_on_a_bad_reload(tmp_path, caplog):
    keys = tmp_path / "keys.txt"
    keys.write_text("alice aaaaaaaaaa\nbob bbbbbbbbbb tokens_per_day=5\n", encoding="utf-8")
    keyring = Keyring(keys, single_key="cccccccccc")
    assert keyring.identify(b"aaaaaaaaaa").name == "alice"
    assert keyring.identify(b"bbbbbbbbbb").limits == KeyLimits(tokens_per_day=5)
    assert keyring.identify(b"cccccccccc").name == "default"
    for wrong in (b"aaaaaaaaa", b"aaaaaaaaaaa", b"", None):
        assert keyring.identify(wrong) is None
    keys.write_text("alice aaaaaaaaaa\nbob\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        assert keyring.reload() is False
    assert [r.getMessage() for r in caplog.records if "not reloaded" in r.getMessage()]
    assert keyring.identify(b"bbbbbbbbbb").name == "bob"
    keys.write_text("dave dddddddddd\n", encoding="utf-8")
    assert keyring.reload() is True
    assert keyring.identify(b"aaaaaaaaaa") is None
    assert keyring.names == ("dave", "default")


def test_a_key_named_default_beside_api_key_is_refused(tmp_path):
    keys = tmp_path / "keys.txt"
    keys.write_text("default aaaaaaaaaa\n", encoding="utf-8")
    with pytest.raises(KeysFileError):
        Keyring(keys, single_key="cccccccccc")
    assert Keyring(keys).names == ("default",)  # alone, the name is free


def test_a_body_with_nan_is_kept_as_text_so_every_line_is_json(tmp_path):
    """Python's json reads NaN and Infinity, and writes them back unless told not to:
    such a line is no JSON for jq or a log shipper."""
    path = tmp_path / "audit.jsonl"
    audit = AuditLog(path, max_bytes=10_000, keep=1)
    for body in (b'{"temperature": NaN}', b'{"x": [Infinity, -Infinity]}', b'{"ok": 1.5}'):
        audit.write(entry(0) | {"_body": body})
    audit.close()

    def strict(constant: str) -> None:
        raise ValueError(f"not JSON: {constant}")

    lines = [json.loads(line, parse_constant=strict) for line in path.read_text().splitlines()]
    assert [line["request"] for line in lines] == [
        '{"temperature": NaN}',
        '{"x": [Infinity, -Infinity]}',
        {"ok": 1.5},
    ]
