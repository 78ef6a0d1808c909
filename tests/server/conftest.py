"""pytest picks up the fixtures from here; they and the helpers live in server_helpers.py."""

from server_helpers import *  # noqa: F403 - re-exports fixtures for pytest
