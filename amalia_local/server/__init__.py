"""The OpenAI-compatible API server (``amalia serve``)."""
