"""SIGKILL in the middle of an answer: the database stays consistent, the text stays."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from tui_helpers import SIZE, click_conversation, wait_ready

from amalia_local.conversations import ConversationStore
from amalia_local.tui.widgets.messages import AnswerMessage
from tests.pipes import read_line
from tests.user_process import user_cwd, user_env

CHILD = Path(__file__).with_name("kill_child.py")


async def test_sigkill_mid_answer_keeps_the_partial_answer(make_app, smollm, home: Path):
    env = user_env(home.parent / "user")
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(smollm), str(home)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=user_cwd(env),
    )
    try:
        line = read_line(child.stdout, timeout=300)
        assert line.startswith("STREAMING"), child.stderr.read()
        shown = int(line.split()[1])
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()

    database = home / "data" / "conversations.db"
    conn = sqlite3.connect(database)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    store = ConversationStore(database)
    (summary,) = store.list()
    messages = store.get(summary.id).messages
    store.close()
    assert [m.role for m in messages] == ["user", "assistant"]
    partial = messages[-1]
    assert not partial.complete  # cut short by the kill, not finished
    # Saved every 0.5 s: at least what was on screen 0.5 s before the line was printed.
    assert len(partial.content) > 0
    assert len(partial.content) >= shown * 0.3

    app = make_app(smollm)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(app)
        await click_conversation(pilot, 0)
        answer = app.screen.query(AnswerMessage).last()
        assert answer.source == partial.content
        assert answer.border_subtitle == "stopped"
