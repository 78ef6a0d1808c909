"""The conversion itself: validate everything, then stream one GGUF file into place.

Order matters for the promises we make to users: every input check (config, shard
headers, tokenizer, tensor shapes, disk space, writability) happens before the output
file exists, and the file is written under a hidden temporary name in the destination
directory and renamed only once complete, so an error or Ctrl-C never leaves anything
that looks like a finished model.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import gguf

from amalia_local.progress import Progress
from convert.errors import MissingFileError, OutputError
from convert.hparams import ModelConfig, add_hparams, load_config, read_license
from convert.safetensors_reader import MappedFiles, index_checkpoint
from convert.tensors import FILE_TYPE, OutType, TensorPlan, plan_tensors, resolve_auto
from convert.tokenizer import Vocabulary, add_vocabulary, load_vocabulary
from convert.tokenizer_probe import probe
from convert.writer import declare_tensors, open_gguf, write_headers, write_tensor_data

# Source bytes converted per step. Peak memory is a small multiple of this (source pages,
# f32 intermediate, encoded output), independent of the largest tensor's size: measured
# peak RSS is about 45 MB + 5 blocks (~200 MB at 32 MB, ~125 MB at 16 MB, same speed).
DEFAULT_BLOCK_BYTES = 32 * 1024 * 1024
# room for header, key/values and tensor infos on top of the tensor data
_HEADER_MARGIN = 64 * 1024 * 1024


@dataclass
class Prepared:
    """Everything known about a conversion before the output file is created."""

    model_dir: Path
    config: ModelConfig
    vocab: Vocabulary
    outtype: OutType
    plans: list[TensorPlan]
    name: str
    warnings: list[str] = field(default_factory=list)

    @property
    def data_bytes(self) -> int:
        return sum(p.nbytes for p in self.plans)

    @property
    def source_bytes(self) -> int:
        return sum(p.ref.nbytes for p in self.plans if p.ref is not None)


def _default_name(model_dir: Path, cfg: ModelConfig) -> str:
    name = model_dir.name
    # a Hugging Face cache snapshot directory is named after a commit hash
    if re.fullmatch(r"[0-9a-f]{40}", name) and cfg.name_or_path:
        name = cfg.name_or_path.rstrip("/").rsplit("/", 1)[-1]
    return name or "model"


def prepare(
    model_dir: Path,
    outtype: OutType = OutType.AUTO,
    name: str | None = None,
    *,
    probe_tokenizer: bool = True,
) -> Prepared:
    """Read and validate the checkpoint (headers, config, tokenizer); touches no output.

    With ``probe_tokenizer`` and transformers installed, the vocabulary is also checked
    against transformers' own tokenizer (:mod:`convert.tokenizer_probe`).
    """
    if not model_dir.is_dir():
        raise MissingFileError(f"{model_dir} is not a directory")
    cfg = load_config(model_dir)
    refs = index_checkpoint(model_dir)
    vocab = load_vocabulary(model_dir, cfg.vocab_size)
    if probe_tokenizer and not probe(model_dir, cfg, vocab):
        vocab.warnings.append(
            "transformers is not installed: the tokenizer's dummy-prefix rule "
            f"({vocab.space_prefix.value}) was read from the files, not confirmed"
        )
    if outtype is OutType.AUTO:
        outtype = resolve_auto(refs.values())
    plans = plan_tensors(cfg, refs, outtype)
    return Prepared(
        model_dir=model_dir,
        config=cfg,
        vocab=vocab,
        outtype=outtype,
        plans=plans,
        name=name or _default_name(model_dir, cfg),
        warnings=list(vocab.warnings),
    )


def default_output(prep: Prepared) -> Path:
    """``<name>-<OUTTYPE>.gguf`` in the current directory."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", prep.name).strip("-") or "model"
    return Path.cwd() / f"{safe}-{prep.outtype.value.upper()}.gguf"


def _check_output_path(out: Path) -> None:
    if not out.parent.is_dir():
        raise OutputError(f"output directory {out.parent} does not exist")
    if out.is_dir():
        raise OutputError(f"output path {out} is a directory")


def _check_disk_space(directory: Path, needed: int) -> None:
    free = shutil.disk_usage(directory).free
    if free < needed:
        raise OutputError(
            f"not enough disk space in {directory}: need {needed / 1e9:.2f} GB, "
            f"{free / 1e9:.2f} GB free"
        )


def _create_temp(out: Path) -> Path:
    """An empty hidden ``.part`` file beside ``out``, created with the umask's permissions.

    (``tempfile.mkstemp`` would make it 0600, and the rename would carry that over to
    the finished model.)
    """
    for _ in range(100):
        tmp = out.with_name(f".{out.name}.{secrets.token_hex(4)}.part")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        except OSError as e:
            raise OutputError(f"cannot write to {out.parent}: {e.strerror}") from e
        os.close(fd)
        return tmp
    raise OutputError(f"cannot create a temporary file in {out.parent}")


def _add_general(writer: gguf.GGUFWriter, prep: Prepared) -> None:
    writer.add_type(gguf.GGUFType.MODEL)
    writer.add_name(prep.name)
    license_ = read_license(prep.model_dir)
    if license_:
        writer.add_license(license_)
    writer.add_file_type(FILE_TYPE[prep.outtype])
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)


def write_gguf(
    prep: Prepared,
    out: Path,
    *,
    block_bytes: int = DEFAULT_BLOCK_BYTES,
    show_progress: bool = True,
    on_bytes: Callable[[int], None] | None = None,
) -> list[str]:
    """Write ``prep`` to ``out`` atomically. Returns warnings worth showing the user."""
    out = out.absolute()
    _check_output_path(out)
    tmp = _create_temp(out)
    writer: gguf.GGUFWriter | None = None
    warnings = list(prep.warnings)
    try:
        _check_disk_space(out.parent, prep.data_bytes + _HEADER_MARGIN)
        writer = open_gguf(tmp, prep.config.arch_name)
        _add_general(writer, prep)
        add_hparams(writer, prep.config)
        add_vocabulary(writer, prep.vocab)
        declare_tensors(writer, prep.plans)
        write_headers(writer)
        with MappedFiles() as files:
            if show_progress:
                with Progress(prep.source_bytes, label="converting") as bar:
                    warnings += write_tensor_data(
                        writer, prep.plans, files, block_bytes, on_bytes or bar.update
                    )
            else:
                warnings += write_tensor_data(
                    writer, prep.plans, files, block_bytes, on_bytes or (lambda n: None)
                )
        writer.close()
        writer = None
        os.replace(tmp, out)
    except OSError as e:
        raise OutputError(f"writing {out} failed: {e.strerror or e}") from e
    finally:
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.close()
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return warnings
