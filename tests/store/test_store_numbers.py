"""pull and rm in Portuguese: the bar, the final line and the freed size use 4,5 MB."""

from __future__ import annotations

import re


def test_pull_and_rm_in_portuguese_write_sizes_with_a_decimal_comma(run_amalia):
    pulled = run_amalia("--lang", "pt", "pull", "amalia")
    assert pulled.returncode == 0, pulled.stderr
    assert "amalia:q4_k_m instalado (4,5 MB, sha256 verificado)" in pulled.stdout
    # the progress bar (plain lines off a terminal) on stderr
    bar = [line for line in pulled.stderr.splitlines() if line.startswith("a transferir")]
    assert bar and "4,5 MB / 4,5 MB" in bar[-1], pulled.stderr
    assert not re.search(r"\d\.\d [kMG]?B", pulled.stdout + pulled.stderr)
    listed = run_amalia("--lang", "pt", "list")
    assert re.search(r"amalia:q4_k_m\s+4,5 MB\s", listed.stdout), listed.stdout
    removed = run_amalia("--lang", "pt", "rm", "amalia", "--yes")
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout == "amalia:q4_k_m removido (4,5 MB libertados)\n"


def test_pull_in_english_keeps_decimal_points(run_amalia):
    pulled = run_amalia("--lang", "en", "pull", "amalia")
    assert pulled.returncode == 0, pulled.stderr
    assert "amalia:q4_k_m installed (4.5 MB, sha256 verified)" in pulled.stdout
    assert "4.5 MB / 4.5 MB" in pulled.stderr
