"""The Textual chat UI: ``app.py`` wires screens; widgets only paint and forward keys."""
