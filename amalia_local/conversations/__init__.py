"""Saved conversations: a SQLite file under the data dir, its migrations, Markdown export.

The chat UI writes here as a conversation happens (the answer being streamed too), so
nothing is lost when the app is closed or killed; widgets call this, they hold no SQL.
"""

from amalia_local.conversations.export import to_markdown
from amalia_local.conversations.store import (
    Conversation,
    ConversationStore,
    ConversationSummary,
    SearchedDocument,
    StoredAttachment,
    StoredMessage,
    StoredSource,
    title_from_question,
)

__all__ = [
    "Conversation",
    "ConversationStore",
    "ConversationSummary",
    "SearchedDocument",
    "StoredAttachment",
    "StoredMessage",
    "StoredSource",
    "title_from_question",
    "to_markdown",
]
