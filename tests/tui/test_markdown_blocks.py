"""Answers drawn block by block: streamed text must look exactly like the whole text."""

from __future__ import annotations

import random

from textual.app import App, ComposeResult

from amalia_local.tui.markdown_blocks import MarkdownBlocks, block_starts
from amalia_local.tui.widgets.messages import GROWTH_STEP, AnswerMessage

ANSWER = """Lisboa é a capital de Portugal. Alguns factos:

1. fica na foz do **Tejo**;
2. tem cerca de 550 mil habitantes.

## História

> Terramoto de 1755,
seguido da reconstrução pombalina.

| Cidade | Distrito |
|--------|----------|
| Lisboa | Lisboa   |

```python
def ola(nome):

    return f"Olá, {nome}!"
```

Fim.
"""


def stream(text: str, seed: int) -> MarkdownBlocks:
    rng = random.Random(seed)
    blocks = MarkdownBlocks()
    i = 0
    while i < len(text):
        n = rng.randint(1, 9)
        before = list(blocks.settled)
        blocks.append(text[i : i + n])
        assert blocks.settled[: len(before)] == before  # settled blocks never change
        i += n
    return blocks


def test_blocks_split_where_markdown_starts_them():
    blocks = MarkdownBlocks(ANSWER)
    assert [b.splitlines()[0] for b in blocks.settled] == [
        "Lisboa é a capital de Portugal. Alguns factos:",
        "1. fica na foz do **Tejo**;",
        "## História",
        "> Terramoto de 1755,",
        "| Cidade | Distrito |",
        "```python",
    ]
    assert blocks.open == "Fim.\n"
    assert blocks.text == ANSWER
    assert block_starts("") == []


def test_streamed_in_any_chunks_gives_the_same_blocks():
    whole = MarkdownBlocks(ANSWER)
    for seed in range(40):
        streamed = stream(ANSWER, seed)
        assert (streamed.settled, streamed.open) == (whole.settled, whole.open)


def test_a_half_written_line_does_not_end_a_list():
    blocks = MarkdownBlocks("1. um\n\n2")
    assert blocks.settled == []  # "2" may yet become "2. dois"
    blocks.append(". dois\n\nTexto")
    assert blocks.settled == []
    blocks.append("\n")
    assert blocks.settled == ["1. um\n\n2. dois\n\n"]


def test_an_unclosed_code_fence_stays_open():
    blocks = MarkdownBlocks("Código:\n\n```\nx = 1\n\ny = 2\n")
    assert blocks.settled == ["Código:\n\n"]
    assert blocks.open == "```\nx = 1\n\ny = 2\n"


class OneAnswer(App[None]):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        yield AnswerMessage(self.text, "model")


def rendered(widget: AnswerMessage) -> list[str]:
    return [widget.render_line(y).text.rstrip() for y in range(widget.size.height)]


async def test_a_streamed_answer_looks_like_the_reopened_one():
    app = OneAnswer(ANSWER)
    async with app.run_test(size=(80, 60)) as pilot:
        whole = rendered(app.query_one(AnswerMessage))
    assert "1 fica na foz do Tejo;" in [line.strip() for line in whole]
    assert any("Lisboa" in line and "│" not in line for line in whole)  # table row
    assert "###" not in "".join(whole) and "```" not in "".join(whole)

    app = OneAnswer("")
    async with app.run_test(size=(80, 60)) as pilot:
        widget = app.query_one(AnswerMessage)
        calls: list[str] = []
        render_block = widget._render_block

        def counting(text: str, width: int):
            calls.append(text)
            return render_block(text, width)

        widget._render_block = counting  # type: ignore[method-assign]
        rng = random.Random(7)
        i = updates = 0
        while i < len(ANSWER):
            n = rng.randint(1, 12)
            widget.append(ANSWER[i : i + n])
            i += n
            updates += 1
            await pilot.pause()
        assert widget.source == ANSWER
        assert rendered(widget) == whole
        # Drawn a block at a time, never the whole answer; per update only the open
        # block (and the line being written after it), plus each block once more when
        # it settles.
        blocks = MarkdownBlocks(ANSWER)
        longest = max(map(len, [*blocks.settled, blocks.open]))
        assert longest <= max(len(text) for text in calls) <= longest + 12
        assert len(calls) <= updates + len(blocks.settled) + 1


async def test_a_streaming_answer_grows_in_steps_and_fits_its_text_at_the_end():
    app = OneAnswer("")
    async with app.run_test(size=(80, 60)) as pilot:
        widget = app.query_one(AnswerMessage)
        widget.streaming = True
        heights = set()
        for line in ANSWER.splitlines(keepends=True):
            widget.append(line)
            await pilot.pause()
            heights.add(widget.size.height)
            assert widget.size.height % GROWTH_STEP == 0
            text_lines = len(widget._lines_at(widget.size.width))
            assert text_lines <= widget.size.height < text_lines + GROWTH_STEP
        assert len(heights) > 1
        widget.finish()
        await pilot.pause()
        lines = rendered(widget)
        assert len(lines) == len(widget._lines_at(widget.size.width))  # no spare lines left
        assert lines[-1].strip() == "Fim."


async def test_every_line_that_changes_while_streaming_is_repainted():
    """A half-written "-" under a paragraph makes it a heading; once the line turns
    into a list item the paragraph is a paragraph again, wrapped lines and all."""
    app = OneAnswer("")
    async with app.run_test(size=(80, 30)) as pilot:
        widget = app.query_one(AnswerMessage)
        widget.streaming = True
        widget.append(
            "Lisboa fica na foz do Tejo e tem muitas colinas, miradouros, eléctricos"
            " amarelos e\nfado\n-"
        )
        await pilot.pause()
        before = list(widget._lines_at(widget.size.width))
        assert len(before) == 2  # a heading over two lines
        repainted: list[int] = []
        refresh = widget.refresh

        def recording(*regions, **kwargs):
            for region in regions:
                repainted.extend(range(region.y, region.bottom))
            return refresh(*regions, **kwargs)

        widget.refresh = recording  # type: ignore[method-assign]
        widget.append(" item\n")
        after = widget._lines_at(widget.size.width)
        changed = [y for y in range(len(after)) if y >= len(before) or before[y] != after[y]]
        assert 0 in changed  # the first line lost the heading's style
        assert set(changed) <= set(repainted)
