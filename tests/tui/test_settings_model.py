"""The model the settings show is the one the chat talks to, and saving keeps it open."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tui_helpers import SIZE, wait_ready

from amalia_local.tui.screens.chat import ChatScreen


async def test_saving_settings_keeps_the_model_opened_from_the_command_line(
    make_app, tiny_model, random_model
):
    # `amalia chat tiny.gguf` while the settings name another file as the default.
    app = make_app(tiny_model)
    app.config = replace(app.config, model=str(random_model))
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(app)
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert app.screen.query_one("#model").value == str(tiny_model)
        app.screen.query_one("#temperature").value = "0,2"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, ChatScreen)
        await app.workers.wait_for_complete()
        assert Path(app.model.location).name == tiny_model.name
        assert app.config.temperature == 0.2
