"""Typed errors of the model store; each one becomes a single translated line.

Like huggingface_hub's own errors (``RepositoryNotFoundError``, ``LocalEntryNotFoundError``)
they say *which* thing went wrong, so the CLI and the chat UI can word it for a user
instead of showing an HTTP status or a traceback.
"""

from __future__ import annotations

from amalia_local.errors import AmaliaError, UsageError


class StoreError(AmaliaError):
    """Base class for everything the store refuses or cannot do."""


class BadNameError(UsageError):
    """A model name that cannot be parsed (``amalia:``, ``hf:nobody``)."""


class UnknownModelError(StoreError):
    """The name is well formed but neither the catalogue nor the store knows it."""


class NotInstalledError(StoreError):
    """A known model that has not been pulled or imported yet."""


class AlreadyInstalledError(StoreError):
    """An import would overwrite a model already in the store under that name."""


class OfflineError(StoreError):
    """A download was needed but an offline switch forbids the network."""


class NetworkError(StoreError):
    """The Hub could not be reached (no network, DNS failure, timeout)."""


class HubNotFoundError(StoreError):
    """The Hub answered: no such repository, revision or file (or it is gated)."""


class HubError(StoreError):
    """Any other answer from the Hub we cannot work with (5xx, missing headers)."""


class UnsupportedModelError(StoreError):
    """The Hub file's header shows a model this llama.cpp cannot run (refused unfetched)."""


class ChecksumError(StoreError):
    """Downloaded bytes do not match the sha256 the Hub publishes: never registered."""


class DownloadError(StoreError):
    """The transfer itself failed (disk full, connection lost for good)."""


class StoreLockedError(StoreError):
    """Another amalia process held the store lock for too long."""


class PullCancelled(StoreError):
    """Raised by a progress callback to stop a download; the partial file is kept, so the
    next pull of the same model continues where this one stopped."""

    def __init__(self, name: str = "") -> None:
        super().__init__("error.pull_cancelled", name=name)


class ModelInUseError(StoreError):
    """The model's file cannot be deleted now: another program has it open (Windows)."""
