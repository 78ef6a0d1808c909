"""pytest picks up the fixtures from here; they and the helpers live in tui_helpers.py.

Test modules import helpers from ``tui_helpers``, never from ``conftest``: several
conftest modules share that name, and which one ``import conftest`` finds depends on the
order in which pytest loaded them (``pytest tests/bundle tests/store`` broke that way).
"""

from tui_helpers import *  # noqa: F403 - re-exports fixtures and hooks for pytest
