"""Bounded memory: row blocks, released pages, and output independent of the block size."""

from __future__ import annotations

import json
import mmap
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from convert.core import prepare, write_gguf
from convert.errors import CorruptCheckpointError
from convert.safetensors_reader import MappedFiles, index_checkpoint, read_header
from convert.tensors import OutType


@pytest.mark.parametrize("outtype", ["f32", "f16", "bf16", "q8_0"])
def test_output_does_not_depend_on_block_size(
    outtype: str, checkpoint: Callable[[str], Path], tmp_path: Path
) -> None:
    """One row (or one head for Q/K) per block gives the same bytes as whole tensors."""
    prep = prepare(checkpoint("gqa_tied"), OutType(outtype))
    small, large = tmp_path / "small.gguf", tmp_path / "large.gguf"
    write_gguf(prep, small, show_progress=False, block_bytes=1)
    write_gguf(prep, large, show_progress=False, block_bytes=1 << 30)
    assert small.read_bytes() == large.read_bytes()


def test_row_blocks_cover_tensor_and_keep_heads_whole(checkpoint: Callable[[str], Path]) -> None:
    refs = index_checkpoint(checkpoint("gqa_tied"))
    ref = refs["model.layers.0.self_attn.q_proj.weight"]  # 8 heads x 8 rows, 64 columns
    row_bytes = ref.shape[1] * 2
    with MappedFiles() as files:
        blocks = [b.copy() for b in files.row_blocks(ref, max_bytes=3 * row_bytes, row_multiple=8)]
        # asked for 3 rows but a head is 8 rows: blocks are one head each
        assert [b.shape[0] for b in blocks] == [8] * 8
        whole = next(files.row_blocks(ref, max_bytes=1 << 30))
        assert np.array_equal(np.concatenate(blocks), whole)
        blocks = list(files.row_blocks(ref, max_bytes=20 * row_bytes, row_multiple=8))
        assert [b.shape[0] for b in blocks] == [16, 16, 16, 16]


def _rss_file_kb() -> int:
    status = Path("/proc/self/status").read_text()
    match = re.search(r"RssFile:\s+(\d+) kB", status)
    assert match is not None
    return int(match.group(1))


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="needs Linux /proc")
@pytest.mark.parametrize("release", [True, False])
def test_pages_are_released_after_each_block(
    release: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading a 64 MB tensor through the map keeps only about one 4 MB block resident.

    The control case (release=False, madvise unavailable) shows the measurement can
    fail: without releasing pages the whole tensor stays resident.
    """
    rows, cols = 8192, 4096  # 64 MiB of f16
    path = tmp_path / "big.safetensors"
    save_file({"w": np.ones((rows, cols), dtype=np.float16)}, str(path))
    ref = read_header(path)["w"]
    block = 4 << 20
    if not release:
        monkeypatch.delattr(mmap, "MADV_DONTNEED")
    with MappedFiles() as files:
        before = peak = _rss_file_kb()
        seen_rows = 0
        for b in files.row_blocks(ref, max_bytes=block):
            assert float(b.max()) == 1.0  # touches every page of the block
            seen_rows += b.shape[0]
            peak = max(peak, _rss_file_kb())
        assert seen_rows == rows
    grown_mb = (peak - before) / 1024
    if release:
        assert grown_mb < 3 * block / (1 << 20), f"resident file pages grew by {grown_mb:.0f} MB"
    else:
        assert grown_mb > 32


def test_shard_index_mismatch_is_reported(
    checkpoint: Callable[[str], Path], tmp_path: Path
) -> None:
    ckpt = Path(shutil.copytree(checkpoint("spm_model"), tmp_path / "c"))
    index = json.loads((ckpt / "model.safetensors.index.json").read_text())
    first_shard = next(iter(index["weight_map"].values()))
    index["weight_map"]["model.layers.9.mlp.up_proj.weight"] = first_shard
    (ckpt / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(CorruptCheckpointError, match=r"layers\.9"):
        index_checkpoint(ckpt)
