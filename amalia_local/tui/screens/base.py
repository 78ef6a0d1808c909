"""The screens' bases: ``self.app`` is the AMALIA app, said once for the type checker.

Textual types ``app`` as a plain ``App``, so every use of what our app adds (``t``,
``store``, ``chat_model``...) needed a ``type: ignore``. Textual's own answer is
``textual.getters.app``, the descriptor it declares ``MessagePump.app`` with for type
checkers; declared here the same way, only for them: at run time the screens keep
Textual's ``app`` property (the app module imports the screens, so the class itself
cannot be imported here).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from textual.screen import ModalScreen, Screen

if TYPE_CHECKING:
    from textual import getters

    from amalia_local.tui.app import AmaliaApp

ResultType = TypeVar("ResultType")


class AmaliaScreen(Screen[ResultType]):
    """A full screen of the AMALIA app."""

    if TYPE_CHECKING:
        app = getters.app(AmaliaApp)


class AmaliaModalScreen(ModalScreen[ResultType]):
    """A dialog over another screen of the AMALIA app."""

    if TYPE_CHECKING:
        app = getters.app(AmaliaApp)
