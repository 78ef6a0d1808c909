"""The one error the fit check raises; a translated line with the numbers and a way out."""

from __future__ import annotations

from amalia_local.errors import AmaliaError


class DoesNotFitError(AmaliaError):
    """The model at the chosen context needs more memory than this machine has."""
