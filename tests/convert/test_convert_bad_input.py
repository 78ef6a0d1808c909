"""Every kind of bad input: one ``error:`` line, non-zero exit, nothing left behind."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import gguf
import pytest
from safetensors.torch import load_file, save_file

from convert.cli import main
from convert.core import prepare, write_gguf
from convert.tensors import OutType

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ckpt(checkpoint: Callable[[str], Path], tmp_path: Path) -> Path:
    """A private copy of a sharded checkpoint with tokenizer.model, safe to damage."""
    return Path(shutil.copytree(checkpoint("spm_model"), tmp_path / "ckpt"))


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    d = tmp_path / "out"
    d.mkdir()
    return d


def _fails(
    capsys: pytest.CaptureFixture[str], args: list[str], out_dir: Path, *fragments: str
) -> str:
    code = main([*args, "-o", str(out_dir / "model.gguf"), "--quiet"])
    err = capsys.readouterr().err
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for frag in fragments:
        assert frag in lines[0], lines[0]
    assert list(out_dir.iterdir()) == []  # no output, no temporary file
    return lines[0]


def _shards(ckpt: Path) -> list[Path]:
    return sorted(ckpt.glob("model-*.safetensors"))


def test_missing_config(ckpt: Path, out_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (ckpt / "config.json").unlink()
    _fails(capsys, [str(ckpt)], out_dir, "config.json not found")


def test_not_a_directory(tmp_path: Path, out_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fails(capsys, [str(tmp_path / "nope")], out_dir, "is not a directory")


def test_no_weights(ckpt: Path, out_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for p in [*_shards(ckpt), ckpt / "model.safetensors.index.json"]:
        p.unlink()
    _fails(capsys, [str(ckpt)], out_dir, "no safetensors weights")


def test_shard_listed_but_missing(
    ckpt: Path, out_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = _shards(ckpt)[1]
    victim.unlink()
    _fails(capsys, [str(ckpt)], out_dir, victim.name, "missing")


def test_header_length_corrupted(
    ckpt: Path, out_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shard = _shards(ckpt)[0]
    data = bytearray(shard.read_bytes())
    data[:8] = (10**12).to_bytes(8, "little")
    shard.write_bytes(data)
    _fails(capsys, [str(ckpt)], out_dir, shard.name, "corrupted safetensors header")


def test_header_not_json(ckpt: Path, out_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shard = _shards(ckpt)[0]
    data = bytearray(shard.read_bytes())
    data[8:12] = b"\xff\xfe{["
    shard.write_bytes(data)
    _fails(capsys, [str(ckpt)], out_dir, shard.name, "not valid JSON")


def test_truncated_shard(ckpt: Path, out_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shard = _shards(ckpt)[-1]
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) - 1000])
    _fails(capsys, [str(ckpt)], out_dir, shard.name, "truncated")


def test_shape_disagrees_with_config(
    ckpt: Path, out_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = json.loads((ckpt / "config.json").read_text())
    cfg["intermediate_size"] = 128
    (ckpt / "config.json").write_text(json.dumps(cfg))
    _fails(capsys, [str(ckpt)], out_dir, "mlp.", "has shape", "config.json implies")


def test_unsupported_dtype(ckpt: Path, out_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shard = _shards(ckpt)[0]
    tensors = load_file(shard)
    name = next(n for n in tensors if n.endswith("q_proj.weight"))
    tensors[name] = tensors[name].float().round().to(dtype=tensors[name].dtype).int()
    save_file(tensors, shard, metadata={"format": "pt"})
    _fails(capsys, [str(ckpt)], out_dir, name, "unsupported dtype I32")


def test_missing_tensor(ckpt: Path, out_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    index = json.loads((ckpt / "model.safetensors.index.json").read_text())
    victim = "model.layers.1.mlp.up_proj.weight"
    shard = ckpt / index["weight_map"][victim]
    tensors = load_file(shard)
    del tensors[victim]
    save_file(tensors, shard, metadata={"format": "pt"})
    del index["weight_map"][victim]
    (ckpt / "model.safetensors.index.json").write_text(json.dumps(index))
    _fails(capsys, [str(ckpt)], out_dir, "blk.1.ffn_up", "in block 1")


def test_f16_overflow_is_a_warning(
    ckpt: Path, out_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shard = _shards(ckpt)[0]
    tensors = load_file(shard)
    name = next(n for n in sorted(tensors) if n.endswith("v_proj.weight"))
    tensors[name][0, 0] = 1e6  # fine in bf16, beyond f16's 65504
    save_file(tensors, shard, metadata={"format": "pt"})
    out = out_dir / "m.gguf"
    assert main([str(ckpt), "-o", str(out), "--outtype", "f16", "--quiet"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("warning: blk.") and "f16 range" in err[0]
    assert out.is_file()


def test_unsupported_architecture(
    ckpt: Path, out_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = json.loads((ckpt / "config.json").read_text())
    cfg["architectures"] = ["GPT2LMHeadModel"]
    (ckpt / "config.json").write_text(json.dumps(cfg))
    _fails(
        capsys,
        [str(ckpt)],
        out_dir,
        "GPT2LMHeadModel",
        "LlamaForCausalLM",
        "MistralForCausalLM",
    )


def test_malformed_config_value(
    ckpt: Path, out_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = json.loads((ckpt / "config.json").read_text())
    cfg["hidden_size"] = "wide"
    (ckpt / "config.json").write_text(json.dumps(cfg))
    _fails(capsys, [str(ckpt)], out_dir, "config.json is malformed")


def test_malformed_tokenizer_config(
    ckpt: Path, out_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = json.loads((ckpt / "tokenizer_config.json").read_text())
    cfg["added_tokens_decoder"]["3"].pop("content")
    (ckpt / "tokenizer_config.json").write_text(json.dumps(cfg))
    _fails(capsys, [str(ckpt)], out_dir, "tokenizer files are malformed")


def test_missing_tokenizer(ckpt: Path, out_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (ckpt / "tokenizer.model").unlink()
    _fails(capsys, [str(ckpt)], out_dir, "no tokenizer.model or tokenizer.json")


def test_sentencepiece_without_byte_fallback(
    ckpt: Path, out_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sentencepiece import sentencepiece_model_pb2 as pb

    model = pb.ModelProto()
    model.ParseFromString((ckpt / "tokenizer.model").read_bytes())
    model.trainer_spec.byte_fallback = False
    (ckpt / "tokenizer.model").write_bytes(model.SerializeToString())
    _fails(capsys, [str(ckpt)], out_dir, "without byte fallback")


def test_unsupported_tokenizer_model(
    checkpoint: Callable[[str], Path],
    tmp_path: Path,
    out_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ckpt = Path(shutil.copytree(checkpoint("json_only"), tmp_path / "j"))
    tok = json.loads((ckpt / "tokenizer.json").read_text())
    tok["model"]["type"] = "WordPiece"
    (ckpt / "tokenizer.json").write_text(json.dumps(tok))
    _fails(capsys, [str(ckpt)], out_dir, "WordPiece", "not supported")


def test_output_directory_missing(
    ckpt: Path, out_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([str(ckpt), "-o", str(out_dir / "sub" / "m.gguf"), "--quiet"])
    err = capsys.readouterr().err
    assert code != 0 and err.startswith("error: output directory") and err.count("\n") == 1


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_output_not_writable(ckpt: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # /proc refuses new files even to root, unlike a chmod-ed directory
    code = main([str(ckpt), "-o", "/proc/model.gguf", "--quiet"])
    err = capsys.readouterr().err
    assert code != 0 and err.startswith("error: cannot write to /proc") and err.count("\n") == 1


def test_not_enough_disk_space(
    ckpt: Path, out_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = shutil.disk_usage

    def tiny(path: str | Path) -> object:
        return real(path)._replace(free=1000)

    monkeypatch.setattr(shutil, "disk_usage", tiny)
    _fails(capsys, [str(ckpt)], out_dir, "not enough disk space")


def test_debug_shows_traceback(
    ckpt: Path, out_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (ckpt / "config.json").unlink()
    assert main([str(ckpt), "-o", str(out_dir / "m.gguf"), "--debug"]) != 0
    err = capsys.readouterr().err
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("error: ")


def test_interrupt_leaves_nothing(checkpoint: Callable[[str], Path], out_dir: Path) -> None:
    """Ctrl-C in the middle of writing tensors: no output file, no temporary file."""
    prep = prepare(checkpoint("spm_model"), OutType.F32)
    seen = 0

    def interrupt_midway(n: int) -> None:
        nonlocal seen
        seen += n
        if seen > prep.source_bytes // 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_gguf(
            prep,
            out_dir / "m.gguf",
            show_progress=False,
            on_bytes=interrupt_midway,
            block_bytes=4096,
        )
    assert list(out_dir.iterdir()) == []


def test_cli_subprocess_default_name_and_auto(
    checkpoint: Callable[[str], Path], tmp_path: Path
) -> None:
    """The real entry point: default output name in the cwd, auto = bf16 for bf16 weights."""
    ckpt = checkpoint("json_only")
    proc = subprocess.run(
        [sys.executable, "-m", "convert", str(ckpt), "--name", "Tiny AMALIA"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "Tiny-AMALIA-BF16.gguf"
    assert proc.stdout.strip() == str(out)
    assert "converting" in proc.stderr and "\r" not in proc.stderr  # plain lines off a TTY
    assert [p.name for p in tmp_path.iterdir()] == [out.name]
    reader = gguf.GGUFReader(out)
    assert reader.get_field(gguf.Keys.General.NAME).contents() == "Tiny AMALIA"
    file_type = reader.get_field(gguf.Keys.General.FILE_TYPE).contents()
    assert file_type == gguf.LlamaFileType.MOSTLY_BF16


def test_sigterm_cleans_up_like_ctrl_c(
    checkpoint: Callable[[str], Path],
    out_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`kill` during the tensor data: exit 130, no output, no temporary file."""
    import convert.cli

    real = convert.cli.write_gguf

    def write_then_get_killed(*args: object, **kwargs: object) -> object:
        def on_bytes(n: int) -> None:
            os.kill(os.getpid(), signal.SIGTERM)

        return real(*args, **kwargs, on_bytes=on_bytes, block_bytes=4096)

    monkeypatch.setattr(convert.cli, "write_gguf", write_then_get_killed)
    code = main([str(checkpoint("spm_model")), "-o", str(out_dir / "m.gguf"), "--quiet"])
    assert code == 130
    assert capsys.readouterr().err == "error: interrupted; no output written\n"
    assert list(out_dir.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handler restored


def test_output_permissions_follow_umask(checkpoint: Callable[[str], Path], out_dir: Path) -> None:
    old = os.umask(0o022)
    try:
        write_gguf(
            prepare(checkpoint("spm_model"), OutType.F16), out_dir / "m.gguf", show_progress=False
        )
    finally:
        os.umask(old)
    assert stat.S_IMODE((out_dir / "m.gguf").stat().st_mode) == 0o644
