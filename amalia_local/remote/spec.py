"""What ``--endpoint URL [--api-key KEY] [--model NAME]`` asked for, before connecting."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EndpointSpec:
    url: str
    api_key: str | None = None
    model: str | None = None  # None: the server's first (often only) model

    def open(self):
        """Connect, check the model is there: a :class:`~amalia_local.remote.model.RemoteModel`."""
        from amalia_local.remote.model import RemoteModel

        return RemoteModel.open(self.url, self.api_key, self.model)
