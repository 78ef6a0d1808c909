"""pytest picks up the fixtures from here; they and the helpers live in server_helpers.py
and (TLS for scripted servers) scripted_server.py."""

from scripted_server import fresh_tls, self_signed  # noqa: F401 - fixtures for pytest
from server_helpers import *  # noqa: F403 - re-exports fixtures for pytest
