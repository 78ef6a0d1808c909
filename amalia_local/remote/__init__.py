"""Clients for OpenAI-compatible endpoints (``--endpoint``)."""
