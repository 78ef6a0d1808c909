"""What the speed benchmarks share: the prompt they ask and how they run ``amalia run``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SYSTEM = "You are a helpful AI assistant."  # SmolLM2 answers in English only with it
LISBON = (
    "Escreve um texto longo e detalhado sobre a história de Lisboa, desde a fundação até "
    "aos dias de hoje, incluindo o terramoto de 1755, a reconstrução pombalina, a "
    "revolução de 25 de Abril de 1974 e a Expo 98."
)


def amalia_run_stats(
    model: Path,
    prompt: str,
    *,
    threads: int,
    ctx: int,
    max_tokens: int,
    home: str | None = None,
    env: dict[str, str] | None = None,
    extra: tuple[str, ...] = (),
) -> dict[str, float]:
    """``amalia run --json`` greedy, in a fresh process; its ``stats`` object.

    ``env`` adds variables (``PYTHONPATH`` to another llama-cpp-python, say);
    ``extra``: more ``run`` arguments (``--conversation ID``).
    """
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "amalia_local",
            "run",
            str(model),
            prompt,
            "--json",
            "--system",
            SYSTEM,
            "--temperature",
            "0",
            "--threads",
            str(threads),
            "--ctx",
            str(ctx),
            "--max-tokens",
            str(max_tokens),
            *extra,
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **({"AMALIA_HOME": home} if home else {}), **(env or {})},
    ).stdout
    return json.loads(out)["stats"]
