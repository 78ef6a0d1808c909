"""Bad model files: each gets its exact one-line message and exit code 1, no traceback."""

from __future__ import annotations

import pytest
from tiny_gguf import TinySpec, vocabulary, write_tiny_gguf

from amalia_local.errors import ModelFileError
from amalia_local.model_file import inspect


def _assert_one_line_error(result, expected: str) -> None:
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    assert result.stderr == f"amalia: {expected}\n"
    assert "Traceback" not in result.stderr


def test_missing_file(amalia, tmp_path):
    path = tmp_path / "nope.gguf"
    result = amalia("run", str(path), "olá")
    _assert_one_line_error(result, f"model file not found: {path}")


def test_directory(amalia, tmp_path):
    result = amalia("run", str(tmp_path), "olá")
    _assert_one_line_error(result, f"{tmp_path} is a directory, not a GGUF model file")


def test_text_file_renamed_gguf(amalia, tmp_path):
    path = tmp_path / "notes.gguf"
    path.write_text("Isto não é um modelo.\n", encoding="utf-8")
    result = amalia("info", str(path))
    _assert_one_line_error(
        result, f"{path} is not a GGUF model file (it does not start with the GGUF signature)"
    )


def test_empty_file(amalia, tmp_path):
    path = tmp_path / "empty.gguf"
    path.touch()
    result = amalia("run", str(path), "olá")
    _assert_one_line_error(result, f"{path} is empty (0 bytes), not a GGUF model file")


def test_truncated_at_half(amalia, tiny_model, tmp_path):
    path = tmp_path / "half.gguf"
    data = tiny_model.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    needed = len(data)
    result = amalia("run", str(path), "olá")
    _assert_one_line_error(
        result,
        f"{path} is truncated: its tensors need {needed:,} bytes but the file has "
        f"{len(data) // 2:,} (incomplete download?)",
    )


def test_truncated_inside_header(amalia, tiny_model, tmp_path):
    path = tmp_path / "head.gguf"
    path.write_bytes(tiny_model.read_bytes()[:200])
    result = amalia("info", str(path))
    _assert_one_line_error(result, f"{path} is damaged: its GGUF header cannot be read")


def test_unknown_architecture(amalia, tmp_path):
    path = write_tiny_gguf(tmp_path / "alien.gguf", TinySpec(architecture="marsupial"))
    result = amalia("run", str(path), "olá")
    _assert_one_line_error(
        result, f"{path}: model architecture 'marsupial' is not supported by this llama.cpp build"
    )


def test_error_in_portuguese_locale(amalia, tmp_path):
    path = tmp_path / "nope.gguf"
    result = amalia("run", str(path), "olá", env={"LANG": "pt_PT.UTF-8"})
    _assert_one_line_error(result, f"ficheiro do modelo não encontrado: {path}")


def test_debug_shows_traceback(amalia, tmp_path):
    result = amalia("--debug", "run", str(tmp_path / "nope.gguf"), "olá")
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert "ModelFileError" in result.stderr


@pytest.mark.parametrize("cut", [4, 8, 24, 1000])
def test_inspect_never_crashes_on_truncation(tiny_model, tmp_path, cut):
    path = tmp_path / "cut.gguf"
    path.write_bytes(tiny_model.read_bytes()[:cut])
    with pytest.raises(ModelFileError) as info:
        inspect(path)
    assert info.value.key in {"error.gguf_header_damaged", "error.gguf_truncated"}


def test_inspect_valid_model_reads_facts(tiny_model):
    model = inspect(tiny_model)
    assert model.architecture == "llama"
    assert model.context_length == 512
    assert model.block_count == 2
    assert model.head_count == 4 and model.head_count_kv == 2
    assert model.vocab_size == len(vocabulary()[0])
    assert model.file_type == "F32"
    assert model.bits_per_weight == pytest.approx(32.0)
    assert model.tensor_bytes < model.size_bytes
    assert model.special_tokens()["eos"] == (4, "<|im_end|>")
    assert model.chat_template is not None


def test_cached_description_matches_and_follows_file_changes(tiny_model, tmp_path):
    cache = tmp_path / "cache"
    copy = tmp_path / "model.gguf"
    copy.write_bytes(tiny_model.read_bytes())
    fresh = inspect(copy)
    first = inspect(copy, cache)
    again = inspect(copy, cache)  # served from the JSON record
    assert len(list((cache / "gguf-inspect").glob("*.json"))) == 1
    for model in (first, again):
        assert model.metadata == fresh.metadata
        assert model.tensors == fresh.tensors
        assert model.special_tokens() == fresh.special_tokens()
        assert model.vocab_size == fresh.vocab_size
    # Truncating the file changes its size: the record no longer applies.
    data = copy.read_bytes()
    copy.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError) as info:
        inspect(copy, cache)
    assert info.value.key == "error.gguf_truncated"


def test_a_description_that_cannot_be_saved_leaves_no_temporary_file(tiny_model, tmp_path):
    """The record's place is taken (here by a folder): the model is still described, the
    cache is skipped, and no half-written ``.tmp`` stays behind, start after start."""
    cache = tmp_path / "cache"
    copy = tmp_path / "model.gguf"
    copy.write_bytes(tiny_model.read_bytes())
    inspect(copy, cache)
    (record,) = (cache / "gguf-inspect").glob("*.json")
    record.unlink()
    record.mkdir()  # the rename onto it fails
    for _ in range(2):
        assert inspect(copy, cache).tensors == inspect(copy).tensors
    assert sorted(p.name for p in (cache / "gguf-inspect").iterdir()) == [record.name]


def test_llama_cpp_refusal_is_one_line_with_its_reason(amalia, tmp_path):
    path = write_tiny_gguf(
        tmp_path / "incomplete.gguf", TinySpec(omit_tensors=("blk.1.ffn_down.weight",))
    )
    result = amalia("run", str(path), "olá")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"amalia: llama.cpp could not load {path}: ")
    assert "blk.1.ffn_down.weight" in result.stderr  # llama.cpp's own error line, not a warning
    assert result.stderr.count("\n") == 1
