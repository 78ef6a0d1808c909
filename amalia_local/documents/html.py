"""HTML pages (a regulation saved from a browser, an intranet page): their visible text.

The standard library's parser is enough: it tolerates broken markup, decodes entities,
and we only need the text with its block structure (paragraphs, list items, table rows
as ``a | b`` lines); scripts, styles and the head are left out.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_SPACES = re.compile(r"[ \t\n\r\f]+")  # not \xa0: a no-break space is meant

_SKIPPED = {"script", "style", "head", "noscript", "template", "svg"}
_BLOCKS = {
    "p", "div", "section", "article", "header", "footer", "main", "aside", "nav",
    "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "blockquote", "pre",
    "form", "figure", "figcaption", "dl", "dt", "dd", "address", "hr", "title",
}  # fmt: skip


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._line: list[str] = []
        self._skip = 0
        self._pre = 0
        self._cells = 0  # cells already on the current table row

    def _break(self) -> None:
        line = "".join(self._line)
        if not self._pre:
            line = _SPACES.sub(" ", line).strip()
        if line.strip():
            self.lines.append(line)
        self._line = []
        self._cells = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skip += 1
        elif self._skip:
            return
        elif tag in _BLOCKS or tag == "tr":
            self._break()
            self._pre += tag == "pre"
        elif tag == "br":
            self._break()
        elif tag == "li":
            self._break()
            self._line.append("- ")
        elif tag in ("td", "th"):
            self._line.append(" | " if self._cells else "| ")
            self._cells += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skip = max(0, self._skip - 1)
        elif self._skip:
            return
        elif tag == "tr":
            if self._cells:
                self._line.append(" |")
            self._break()
        elif tag in _BLOCKS or tag == "li":
            self._break()
            if tag == "pre":
                self._pre = max(0, self._pre - 1)

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._line.append(data if self._pre else data.replace("\n", " "))


def html_text(markup: str) -> str:
    parser = _TextParser()
    parser.feed(markup)
    parser.close()
    parser._break()
    return "\n".join(parser.lines)
