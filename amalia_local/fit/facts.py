"""The plain facts a fit decision needs: a model's shape and a machine's memory.

Callers gather them (``model_facts`` from a checked GGUF file, ``catalogue_facts`` from a
catalogue entry not yet downloaded, ``engine.current_machine()`` from the running build)
and then ask :mod:`amalia_local.fit` once. Nothing here reads a file or loads llama.cpp,
so a test can describe a 4 GB laptop or an 8 GB Mac in one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from amalia_local.model_file import ModelFile
    from amalia_local.store.catalogue import Entry, Quant


@dataclass(frozen=True)
class ModelFacts:
    """The shape numbers llama.cpp's memory use follows (per model, not per request)."""

    weight_bytes: int  # tensor data llama.cpp loads
    file_bytes: int  # the file as downloaded (the published size before a pull)
    layers: int  # repeating blocks
    heads: int
    kv_heads: int
    key_length: int  # values per K row of one head
    value_length: int  # values per V row of one head
    embedding: int
    vocab: int
    trained_context: int  # 0: the file does not say


@dataclass(frozen=True)
class Machine:
    """What this machine offers a model (``engine.current_machine()`` measures it)."""

    physical_cores: int
    available_ram: int
    gpu_offload: bool
    total_ram: int = 0
    unified_memory: bool = False  # GPU and CPU share RAM (Metal, integrated GPUs)
    vram_free: int | None = None  # free memory of discrete GPUs; None: unknown


def ram_only_machine() -> Machine:
    """This machine's cores and RAM, without asking llama.cpp about GPUs.

    Asking means loading libllama (0.3 s and more) just to describe a file: ``info`` and
    ``show`` size the context for the CPU's RAM, which is what they print; ``run``, the
    chat and ``serve`` decide with the GPU's facts too (``engine.current_machine()``).
    """
    from amalia_local import hardware

    memory = hardware.memory()
    return Machine(
        physical_cores=hardware.physical_cores(),
        available_ram=memory.available_bytes,
        gpu_offload=False,
        total_ram=memory.total_bytes,
    )


def model_facts(model: ModelFile) -> ModelFacts:
    """The facts of a validated GGUF file (``model_file.inspect``)."""
    return ModelFacts(
        weight_bytes=model.tensor_bytes,
        file_bytes=model.size_bytes,
        layers=model.block_count,
        heads=model.head_count,
        kv_heads=model.head_count_kv,
        key_length=model.key_length,
        value_length=model.value_length,
        embedding=model.embedding_length,
        vocab=model.vocab_size,
        trained_context=model.context_length,
    )


def catalogue_facts(entry: Entry, quant: Quant) -> ModelFacts:
    """The facts of a catalogue quantization before it is downloaded: its published shape,
    with the published size standing for both the file and the weights."""
    arch = entry.architecture
    return ModelFacts(
        weight_bytes=quant.size,
        file_bytes=quant.size,
        layers=arch.layers,
        heads=arch.heads,
        kv_heads=arch.kv_heads,
        key_length=arch.head_dim,
        value_length=arch.head_dim,
        embedding=arch.embedding,
        vocab=arch.vocab,
        trained_context=arch.context,
    )
