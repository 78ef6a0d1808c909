"""import / list / show / rm round trip, names, and the store's lock under concurrency."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from store_helpers import index_models, sha256
from tiny_gguf import ANSWER_TEXT
from user_process import user_cwd

from amalia_local.store import catalogue
from amalia_local.store.errors import BadNameError, UnknownModelError
from amalia_local.store.index import SOURCE_IMPORT, StoreIndex
from amalia_local.store.names import CatalogueRef, HubRef, LocalRef, match_quant, parse


def test_import_list_show_run_rm_round_trip(run_amalia, hub_env, tiny_model, model_bytes):
    imported = run_amalia("import", str(tiny_model), "--name", "mini")
    assert imported.returncode == 0, imported.stderr
    [model] = index_models(hub_env)
    assert model["name"] == "mini" and model["source"] == SOURCE_IMPORT
    assert model["sha256"] == sha256(model_bytes)
    assert model["origin"] == str(tiny_model.resolve())
    stored = Path(model["path"])
    assert stored.read_bytes() == model_bytes
    if model["linked"]:  # same filesystem: a hard link, no second copy
        assert os.stat(stored).st_ino == os.stat(tiny_model).st_ino

    listed = run_amalia("list")
    assert "mini" in listed.stdout and "MB" in listed.stdout
    as_json = json.loads(run_amalia("list", "--json").stdout)
    assert as_json[0]["name"] == "mini" and as_json[0]["present"] is True

    info = run_amalia("info", str(tiny_model))
    shown = run_amalia("show", "mini")
    assert shown.returncode == 0
    assert shown.stdout.startswith(info.stdout)  # what info prints, then the store facts
    assert sha256(model_bytes) in shown.stdout
    shown_json = json.loads(run_amalia("show", "mini", "--json").stdout)
    assert shown_json["store"]["name"] == "mini" and shown_json["parameters"] > 0

    answer = run_amalia("run", "mini", "Olá", "--temperature", "0", "--ctx", "256")
    assert answer.returncode == 0 and answer.stdout == ANSWER_TEXT + "\n"

    refused = run_amalia("rm", "mini")  # stdin is a pipe, no --yes
    assert refused.returncode == 1 and "--yes" in refused.stderr
    assert stored.exists() and index_models(hub_env)

    removed = run_amalia("rm", "mini", "--yes")
    assert removed.returncode == 0 and "mini removed" in removed.stdout
    assert not stored.exists() and index_models(hub_env) == []
    assert tiny_model.exists()  # the user's own file is never touched
    gone = run_amalia("show", "mini")
    assert gone.returncode == 1 and "no model or file called 'mini'" in gone.stderr


def test_pulled_model_rm_frees_the_hf_cache(run_amalia, hub_env):
    assert run_amalia("pull", "amalia").returncode == 0
    [model] = index_models(hub_env)
    blob = Path(model["path"]).resolve()
    assert run_amalia("rm", "amalia", "--yes").returncode == 0
    assert not blob.exists() and not Path(model["path"]).exists()
    assert run_amalia("list").stdout.startswith("no models installed")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("import", "missing.gguf"), "model file not found"),
        (("import", "TINY", "--name", "amalia"), "catalogue or Hub name"),
        (("import", "TINY", "--name", "Bad Name!"), "is not a model name"),
        (("rm", "--yes", "nothing-here"), "nothing-here is not installed"),
        (("show", "amalia"), "amalia is not installed; get it with 'amalia pull amalia'"),
        (("run", "amalia:q8_0", "Olá"), "amalia:q8_0 is not installed"),
        (("info", "hf:a/b:Q4_K_M"), "hf:a/b:Q4_K_M is not installed"),
        (("show", "hf:only-owner"), "is not a model name"),
    ],
)
def test_bad_input_gives_one_line(run_amalia, tiny_model, args, message):
    args = tuple(str(tiny_model) if a == "TINY" else a for a in args)
    result = run_amalia(*args)
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_import_not_gguf_and_duplicate(run_amalia, tmp_path, tiny_model, hub_env):
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a model")
    bad = run_amalia("import", str(junk))
    assert bad.returncode == 1 and "not a GGUF model file" in bad.stderr
    assert run_amalia("import", str(tiny_model)).returncode == 0  # name from the file
    dup = run_amalia("import", str(tiny_model))
    assert dup.returncode == 1 and "already installed" in dup.stderr
    assert [m["name"] for m in index_models(hub_env)] == ["tiny-scripted"]
    leftovers = [
        p.name for p in (Path(hub_env["AMALIA_HOME"]) / "data" / "models" / "files").iterdir()
    ]
    assert leftovers == ["tiny-scripted.gguf"]  # no temporary files left behind


def test_names_parse():
    cat = catalogue.load()
    ref = parse("amalia", cat)
    assert isinstance(ref, CatalogueRef) and ref.store_name == "amalia:q4_k_m"
    assert parse("AMALIA:Q8_0", cat).store_name == "amalia:q8_0"
    assert parse("amalia-sft:q4_k_m", cat).store_name == "amalia-sft:q4_k_m"
    assert parse("amalia-9b-0626-dpo", cat).store_name == "amalia:q4_k_m"  # alias
    assert parse("hf:o/r:Q5_K_M", cat) == HubRef("o/r", quant="q5_k_m")
    assert parse("hf:o/r", cat) == HubRef("o/r", quant="q4_k_m")
    assert parse("hf:o/r/sub/F.gguf", cat) == HubRef("o/r", filename="sub/F.gguf")
    assert parse("mine:v2", cat) == LocalRef("mine:v2")
    for bad in ("hf:o", "hf:o/r/x.bin", "amalia:", "a b", "hf:o/r:", "hf:o/r/../x.gguf", ""):
        with pytest.raises(BadNameError):
            parse(bad, cat)
    with pytest.raises(UnknownModelError):
        parse("amalia:q2_k", cat)


def test_match_quant_like_llama_cpp():
    files = [
        "M-Q4_K_M.gguf",
        "M-Q4_K.gguf",
        "M.Q8_0.gguf",
        "mmproj-M-Q8_0.gguf",
        "big-Q5_K_M-00001-of-00002.gguf",
        "big-Q5_K_M-00002-of-00002.gguf",
        "README.md",
    ]
    assert match_quant(files, "q4_k") == ["M-Q4_K.gguf"]
    assert match_quant(files, "q4_k_m") == ["M-Q4_K_M.gguf"]
    assert match_quant(files, "Q8_0") == ["M.Q8_0.gguf"]
    assert match_quant(files, "q5_k_m") == ["big-Q5_K_M-00001-of-00002.gguf"]
    assert match_quant(files, "q6_k") == []


def test_catalogue_is_complete():
    entries = catalogue.entries()
    assert entries[0].name == "amalia"
    names = {e.name for e in entries}
    assert {"amalia", "amalia-sft", "eurollm-9b", "eurollm-1.7b"} <= names
    for entry in entries:
        assert entry.describe("pt") and entry.describe("en") and entry.license
        assert entry.quant(None) is not None and all(q.size > 0 for q in entry.quants)


_APPEND_MANY = """
import sys
from pathlib import Path
from amalia_local.store.index import SOURCE_IMPORT, Installed, StoreIndex, now_iso
index = StoreIndex(Path(sys.argv[1]))
for i in range(int(sys.argv[3])):
    item = Installed(f"m{sys.argv[2]}-{i}", "/x", "0" * 64, 1, SOURCE_IMPORT, now_iso())
    index.update(lambda models, item=item: [*models, item])
"""


def test_index_lock_keeps_every_concurrent_write(tmp_path):
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _APPEND_MANY, str(tmp_path), str(w), "15"], cwd=tmp_path
        )
        for w in range(4)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    names = {m.name for m in StoreIndex(tmp_path).read()}
    assert len(names) == 60  # without the lock, read-modify-write races lose entries


def test_damaged_index_gives_one_line(run_amalia, hub_env):
    index = Path(hub_env["AMALIA_HOME"]) / "data" / "models" / "index.json"
    index.parent.mkdir(parents=True)
    index.write_text("{ not json", encoding="utf-8")
    result = run_amalia("list")
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "cannot read the model store index" in result.stderr


@pytest.mark.skipif(shutil.which("script") is None, reason="needs script(1) for a terminal")
def test_rm_asks_on_a_terminal(run_amalia, hub_env, tiny_model):
    """A real pseudo-terminal (script -c): 'n' keeps the model, 's' (sim) removes it."""
    assert run_amalia("import", str(tiny_model), "--name", "mini").returncode == 0

    def rm_answering(answer: str, *lang: str) -> subprocess.CompletedProcess[str]:
        command = shlex.join([sys.executable, "-m", "amalia_local", *lang, "rm", "mini"])
        return subprocess.run(
            ["script", "-qec", command, os.devnull],
            input=answer + "\n", env=hub_env, cwd=user_cwd(hub_env), capture_output=True,
            text=True, timeout=120,
        )  # fmt: skip

    kept = rm_answering("n")
    assert kept.returncode == 1 and "Remove mini" in kept.stdout and "mini was kept" in kept.stdout
    assert [m["name"] for m in index_models(hub_env)] == ["mini"]
    removed = rm_answering("s", "--lang", "pt")
    assert removed.returncode == 0 and "Remover o mini" in removed.stdout
    assert index_models(hub_env) == []


def test_a_store_name_wins_over_a_same_named_folder(store, tiny_model, tmp_path, monkeypatch):
    stored = store.import_file(tiny_model, "amalia-mini")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "amalia-mini").mkdir()  # a project folder that happens to share the name
    assert store.resolve_path("amalia-mini") == stored.path
    # ... unless the argument looks like a path
    assert Path(store.resolve_path(f".{os.sep}amalia-mini")) == Path("amalia-mini")
    assert store.resolve_path("amalia-mini.gguf") == "amalia-mini.gguf"
    # a bare word that is no store name may still be a file here
    shutil.copy(tiny_model, tmp_path / "loose")
    assert store.resolve_path("loose") == "loose"


def test_run_by_name_with_a_same_named_folder(run_amalia, tiny_model, hub_env, tmp_path):
    assert run_amalia("import", str(tiny_model), "--name", "mini").returncode == 0
    work = tmp_path / "work"
    (work / "mini").mkdir(parents=True)
    result = subprocess.run(
        [sys.executable, "-m", "amalia_local", "run", "mini", "Olá", "--temperature", "0"],
        cwd=work,
        env=hub_env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ANSWER_TEXT + "\n"


def test_rm_of_a_model_another_program_holds_keeps_it(store, tiny_model, monkeypatch):
    """Windows refuses to delete a file another process has mapped (a chat or serve
    running the model): the model stays installed and the error says why, in one line.
    Linux would let the deletion through, so the refusal is Windows' own error, raised
    where the store deletes."""
    from amalia_local.store.errors import ModelInUseError

    store.import_file(tiny_model, "held")
    path = Path(store.find("held").path)
    real_unlink = Path.unlink

    def windows_unlink(self: Path, missing_ok: bool = False) -> None:
        if self == path:
            raise PermissionError(32, "The process cannot access the file", str(self))
        real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", windows_unlink)
    with pytest.raises(ModelInUseError):
        store.remove("held")
    assert store.find("held") is not None and path.is_file()
    monkeypatch.setattr(Path, "unlink", real_unlink)
    assert store.remove("held").freed > 0 and store.find("held") is None
