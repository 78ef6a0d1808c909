"""Key bindings whose descriptions come from the message catalogue.

Textual reads a binding's description when it draws the footer, so bindings are
declared with catalogue keys (``key.stop``) and each screen swaps them for text in the
UI language when it is created. The help screen reads the same bindings, so the
footer, the help and the command palette can never disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from textual.binding import Binding
from textual.dom import DOMNode

KEY_PREFIX = "key."


def translate_bindings(node: DOMNode, t: Callable[[str], str]) -> None:
    """Replace ``key.*`` descriptions on this node's own (per-instance) bindings map.

    Starts again from the class's bindings, so it can run again when the language changes.
    """
    # The map is copied per instance by Textual, so this never leaks between apps.
    merged = type(node)._merged_bindings
    if merged is not None:
        node._bindings = merged.copy()
    table = node._bindings.key_to_bindings
    for key, bindings in table.items():
        table[key] = [
            replace(b, description=t(b.description)) if b.description.startswith(KEY_PREFIX) else b
            for b in bindings
        ]


def described_bindings(*bindings: list) -> list[Binding]:
    """Bindings with a description, first key of each, for the help screen."""
    found: list[Binding] = []
    for group in bindings:
        for binding in group:
            if isinstance(binding, Binding) and binding.description:
                found.append(binding)
    return found
