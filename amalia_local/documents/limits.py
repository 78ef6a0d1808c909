"""Sizes past which a document is refused rather than read.

The largest context AMALIA takes is 32,768 tokens in practice (and 128k at most), about
four characters a token: a document whose text runs to millions of characters can never
be asked about whole, and reading it would only fill the memory. The zip limits stop a
DOCX/ODT "bomb" (a few kilobytes that inflate to gigabytes) before it is inflated.
"""

from __future__ import annotations

MAX_FILE_BYTES = 256 * 1024 * 1024  # the file on disk (a PDF with images can be large)
MAX_TEXT_CHARS = 8_000_000  # extracted text: ~2 million tokens, far past any context
MAX_XML_BYTES = 32 * 1024 * 1024  # one inflated XML member of a DOCX/ODT (parsing takes ~10x)
MAX_RATIO = 200  # inflated / compressed size of a member; XML text compresses ~10-30x
RATIO_FLOOR_BYTES = 1024 * 1024  # members smaller than this are not ratio-checked
