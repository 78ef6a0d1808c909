"""What ``amalia pull`` costs beyond the transfer itself, on a local fake Hub.

Serves a GGUF padded to SIZE MB from tests/store/fake_hub.py on 127.0.0.1 and times, in
fresh subprocesses: a full pull (transfer + streaming sha256 + GGUF validation +
registration), a pull of a file already in the Hugging Face cache (sha256 re-read only),
and ``hf_hub_download`` of the same file for reference. The gap between the first and the
last is our overhead; the cached case is what verification alone costs per GB.

    python tests/benchmarks/bench_pull.py [--size-mb 512]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(HERE), str(HERE / "store")]
from fake_hub import FakeHub  # noqa: E402
from tiny_gguf import write_tiny_gguf  # noqa: E402

REPO, FILE = "teex-pt/AMALIA-9B-0626-DPO-GGUF", "AMALIA-9B-0626-DPO-Q4_K_M.gguf"


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=512)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = write_tiny_gguf(root / "tiny.gguf").read_bytes()
        data = model + b"\0" * (args.size_mb * 1_000_000 - len(model))  # valid: tail is ignored
        hub = FakeHub()
        hub.add(REPO, FILE, data)
        hub.start()
        pull = [sys.executable, "-m", "amalia_local", "pull", "amalia"]
        base = {**os.environ, "HF_ENDPOINT": hub.endpoint}
        env = {**base, "AMALIA_HOME": str(root / "a"), "HF_HOME": str(root / "hf")}
        full = timed(pull, env)
        cached = timed(pull, {**env, "AMALIA_HOME": str(root / "b")})
        reference = timed(
            [
                sys.executable,
                "-c",
                "import sys; from huggingface_hub import hf_hub_download as d; "
                f"d({REPO!r}, {FILE!r}, cache_dir=sys.argv[1])",
                str(root / "ref"),
            ],
            base,
        )
        hub.stop()
    gb = args.size_mb / 1000
    print(f"file: {args.size_mb} MB")
    print(f"amalia pull, download:      {full:6.2f} s")
    print(f"hf_hub_download, reference: {reference:6.2f} s")
    print(f"amalia pull, already cached:{cached:6.2f} s ({cached / gb:.2f} s/GB incl. startup)")


if __name__ == "__main__":
    main()
