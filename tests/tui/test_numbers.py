"""The chat UI writes numbers as its language does: 5,6 GB and 12,3 tokens/s in pt."""

from __future__ import annotations

import re

from textual.widgets import OptionList
from tui_helpers import SIZE, ask, wait_answer, wait_ready

from amalia_local.tui.screens.first_run import FirstRunScreen

POINT_SIZE = re.compile(r"\d\.\d [kMGT]?B")


def option_texts(app, selector: str) -> list[str]:
    view = app.screen.query_one(selector, OptionList)
    return [str(view.get_option_at_index(i).prompt) for i in range(view.option_count)]


async def test_first_run_offers_sizes_with_a_decimal_comma_in_portuguese(make_app):
    app = make_app(None, lang="pt")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, FirstRunScreen)
        offers = option_texts(app, "#offers")
    [amalia] = [o for o in offers if o.startswith("AMALIA-9B-0626-DPO · Q4_K_M")]
    assert "· 5,6 GB · precisa de cerca de 7,9 GB de RAM" in amalia, amalia
    assert not [o for o in offers if POINT_SIZE.search(o)], offers


async def test_first_run_offers_in_english_keep_decimal_points(make_app):
    app = make_app(None, lang="en")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        offers = option_texts(app, "#offers")
    assert any("· 5.6 GB · needs about 7.9 GB of RAM" in o for o in offers), offers


async def test_status_bar_and_model_details_in_portuguese(make_app, tiny_model):
    app = make_app(tiny_model, lang="pt")
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(app)
        await ask(pilot, "Olá")
        await wait_answer(app)
        status = " · ".join(app.status_parts(app.screen._last_stats))
        details = app.model_description()
    assert re.search(r"\b\d+,\d tokens/s", status), status
    assert re.search(r"contexto \d+/512\b", status), status  # the tiny model's trained context
    assert "4,5 MB · 1,12M parâmetros · contexto de treino 512 · em uso 512" in details, details


async def test_status_bar_in_english_groups_thousands(make_app, smollm):
    app = make_app(smollm, lang="en")  # trained on 8192 tokens, opened at 1024
    async with app.run_test(size=SIZE):
        await wait_ready(app)
        status = " · ".join(app.status_parts(None))
        details = app.model_description()
    assert re.search(r"context 0/1,024\b", status), status
    assert "98.4 MB · 135M parameters · trained context 8,192 · using 1,024" in details, details
