"""A conversation as a Markdown document a person can read, share or keep."""

from __future__ import annotations

from amalia_local.conversations.store import USER, Conversation, StoredSource
from amalia_local.i18n import Translator


def to_markdown(conversation: Conversation, translator: Translator) -> str:
    """Title, model and date, then each turn under a heading naming who spoke.

    Answers are Markdown already, so they are copied verbatim; an answer that was cut
    short says so, because a reader of the file cannot see the stop. Attached documents
    come whole (name, SHA-256 and the text the model read) before their question; an
    answer given passages of long documents is followed by their sources.
    """
    t = translator.t
    lines = [f"# {conversation.title}", ""]
    if conversation.model:
        lines.append(f"- {t('export.model')}: {conversation.model}")
    lines.append(f"- {t('export.date')}: {conversation.created_at[:16].replace('T', ' ')} UTC")
    lines.append("")
    sources: list[str] = []
    for message in conversation.messages:
        if message.role == USER:
            sources = [_source(s, t) for s in message.sources]
        who = t("export.user") if message.role == USER else t("export.assistant")
        lines += [f"## {who}", ""]
        for a in message.attachments:
            # The text as the model read it, folded away: a reader sees the question first.
            summary = t("export.attachment", name=a.name, sha256=a.sha256)
            lines += ["<details>", f"<summary>{summary}</summary>", "", a.text, "", "</details>"]
            lines.append("")
        lines += [message.content.strip(), ""]
        if message.role != USER and (not message.complete or message.stop_reason == "cancelled"):
            lines += [f"*{t('export.incomplete')}*", ""]
        if message.role != USER and sources:
            # The passages the answer was given, so a reader can check it against them.
            lines += [f"**{t('export.sources')}**", "", *sources, ""]
            sources = []
    return "\n".join(lines).rstrip() + "\n"


def _source(source: StoredSource, t) -> str:
    line = f"- {source.label}"
    if not source.given:
        line += f" ({t('passages.in_context')})"
    return line
