"""A document too long for the context, read in passages: split, indexed, searched.

``split`` cuts a :class:`~amalia_local.documents.Document` into passages of a few hundred
tokens that follow its structure; ``search`` finds the best ones for a question (BM25
over SQLite FTS5, accents folded, Portuguese stems); ``index`` keeps that search under
the cache folder, built once per document; ``choose`` picks what fits a token budget.
"""
