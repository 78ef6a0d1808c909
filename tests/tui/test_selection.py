"""Selecting part of an answer with the mouse and copying it, driven with Pilot."""

from __future__ import annotations

from tui_helpers import SIZE, click_conversation, wait_ready

from amalia_local.tui.widgets.messages import AnswerMessage

ANSWER = "Lisboa é a capital de Portugal.\n\nO Porto fica no **Norte**."


def _open_saved_answer(app) -> None:
    conversation = app.store.create("Capitais", "tiny-scripted")
    app.store.add_message(conversation, "user", "Qual é a capital?")
    app.store.add_message(conversation, "assistant", ANSWER)


async def _drag(pilot, answer: AnswerMessage, start: tuple[int, int], end: tuple[int, int]):
    """Press the button on the answer's text at ``start``, move to ``end``, release.

    Positions are (column, line) in the answer's text, both ends included, as Textual
    selects; Pilot's offsets count from the widget's outer edge (its border).
    """
    left, top = answer.content_region.offset - answer.region.offset
    await pilot.mouse_down(answer, offset=(left + start[0], top + start[1]))
    await pilot.hover(answer, offset=(left + end[0], top + end[1]))
    await pilot.mouse_up(answer, offset=(left + end[0], top + end[1]))
    await pilot.pause()


async def test_dragging_across_an_answer_selects_and_copies_that_text(make_app, tiny_model):
    app = make_app(tiny_model)
    _open_saved_answer(app)
    async with app.run_test(size=SIZE) as pilot:
        await wait_ready(app)
        await click_conversation(pilot, 0)
        (answer,) = app.screen.query(AnswerMessage)

        await _drag(pilot, answer, (0, 0), (5, 0))
        assert app.screen.get_selected_text() == "Lisboa"
        # What is selected is drawn in the selection style, and only that.
        line = answer.render_line(0)
        selected = app.screen.get_component_rich_style("screen--selection").bgcolor
        marked = "".join(s.text for s in line if s.style and s.style.bgcolor == selected)
        assert marked == "Lisboa"

        # F3 copies the selection rather than the whole answer.
        await pilot.press("f3")
        assert app.clipboard == "Lisboa"

        # Across lines: the text as drawn (Markdown rendered), one line per row.
        await _drag(pilot, answer, (19, 0), (11, 2))
        assert app.screen.get_selected_text() == "de Portugal.\n\nO Porto fica"
        app.copy_to_clipboard("")
        await pilot.press("ctrl+c")  # Textual's own copy key works too
        assert app.clipboard == "de Portugal.\n\nO Porto fica"
        assert app.is_running  # Ctrl+C copied; it did not quit

        # A click clears the selection; F3 then copies the answer that has focus.
        await pilot.click(answer)
        assert not app.screen.get_selected_text()
        await pilot.press("f3")
        assert app.clipboard == ANSWER
