"""Typed errors of air-gapped bundles; each becomes one translated line in the CLI."""

from __future__ import annotations

from amalia_local.errors import AmaliaError, UsageError


class BundleError(AmaliaError):
    """Base class: a bundle that cannot be created, verified or imported."""


class NotABundleError(BundleError):
    """The folder has no ``manifest.json``: it is not a bundle (or the copy is incomplete)."""


class ManifestError(BundleError):
    """``manifest.json`` is not valid JSON or does not follow the schema."""


class UnsafePathError(BundleError):
    """The manifest names a file outside the bundle (absolute, ``..``, escaping symlink).

    Refused before any file is read, so a crafted manifest cannot make ``amalia import``
    read or copy ``/etc/passwd`` or a file through a link."""


class BundleDamagedError(BundleError):
    """Files are missing or corrupted: nothing is imported from a damaged bundle."""


class OutputExistsError(UsageError):
    """OUT_DIR exists and is not empty: a bundle never overwrites anything."""


class WheelhouseError(BundleError):
    """pip could not assemble the wheels for the target (its own output says why)."""
