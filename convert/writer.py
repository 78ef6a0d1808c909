"""Stream tensors into a GGUF file without holding any whole tensor in memory.

``gguf.GGUFWriter`` keeps every tensor it is given until ``write_tensors_to_file``;
for an 18 GB checkpoint that is 18 GB of RAM (or a temporary file of that size). But
the GGUF layout only needs each tensor's shape, type and byte size up front: header,
key/values and tensor infos come first, then the data section, where each tensor starts
at an offset aligned to ``general.alignment``. So we let GGUFWriter write everything up
to the tensor infos from *declared* sizes (``add_tensor_info``), then append each
tensor's bytes ourselves, block by block, padding between tensors exactly as the infos
promised, and check every tensor's byte count against its declaration.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import gguf
import numpy as np

from convert.safetensors_reader import MappedFiles
from convert.tensors import TensorPlan, encode_block


def declare_tensors(writer: gguf.GGUFWriter, plans: list[TensorPlan]) -> None:
    """Register every tensor's name, logical shape, type and size before the file opens."""
    for p in plans:
        # shape is given in elements (numpy order); GGUFWriter reverses it for ggml
        writer.add_tensor_info(
            p.name, p.shape, np.dtype(np.float32), p.nbytes, raw_dtype=p.out_type
        )


def write_tensor_data(
    writer: gguf.GGUFWriter,
    plans: list[TensorPlan],
    files: MappedFiles,
    block_bytes: int,
    on_bytes: Callable[[int], None],
) -> list[str]:
    """Write the data section after the tensor infos. Returns warnings (f16 overflow)."""
    assert writer.fout is not None and len(writer.fout) == 1
    out: BinaryIO = writer.fout[0]
    align = writer.data_alignment
    warnings: list[str] = []
    writer.write_padding(out, out.tell())
    for p in plans:
        written = 0
        overflowed = False
        if p.data is not None:
            arr = np.ascontiguousarray(p.data)
            out.write(arr.tobytes())
            written = arr.nbytes
        else:
            assert p.ref is not None
            for block in files.row_blocks(p.ref, block_bytes, p.row_multiple):
                encoded, overflow = encode_block(p, block)
                overflowed |= overflow
                out.write(memoryview(encoded).cast("B"))
                written += encoded.nbytes
                on_bytes(block.nbytes)
                del block, encoded
        if written != p.nbytes:
            raise RuntimeError(
                f"internal error: {p.name} wrote {written} bytes, declared {p.nbytes}"
            )
        if overflowed:
            warnings.append(f"{p.name}: values beyond the f16 range became infinite")
        writer.write_padding(out, written, align)
    return warnings


def open_gguf(path: Path, arch_name: str) -> gguf.GGUFWriter:
    """A GGUFWriter for one (unsplit) file at ``path``; nothing is created until headers."""
    return gguf.GGUFWriter(path, arch_name)


def write_headers(writer: gguf.GGUFWriter) -> None:
    """Header, key/values and tensor infos, in the order the format requires."""
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
