"""The bundle's notes give model sizes as each note's language writes them."""

from __future__ import annotations

from amalia_local.bundle.scripts import ScriptInfo, leia_me, read_me


def test_leia_me_in_portuguese_and_read_me_in_english_write_their_own_sizes() -> None:
    info = ScriptInfo(
        amalia_version="0.1.0",
        python="3.11",
        platform="manylinux_2_28_x86_64",
        llama_version="0.3.16",
        llama_from_source=False,
        models=(("amalia:q4_k_m", 5_600_000_000), ("tiny", 4_500_000)),
        amalia_wheel="amalia_local-0.1.0-py3-none-any.whl",
    )
    leia, read = leia_me(info), read_me(info)
    assert "  - amalia:q4_k_m (5,6 GB)\n  - tiny (4,5 MB)" in leia
    assert "  - amalia:q4_k_m (5.6 GB)\n  - tiny (4.5 MB)" in read
