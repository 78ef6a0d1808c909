"""Which file of a repository a name means."""

from __future__ import annotations

from typing import TYPE_CHECKING

from amalia_local.store.errors import HubError, HubNotFoundError, OfflineError
from amalia_local.store.hub.cache import storage
from amalia_local.store.hub.calls import hub_call
from amalia_local.store.names import HubRef, is_split, match_quant

if TYPE_CHECKING:
    from amalia_local.store.hub.settings import HubSettings


def list_files(ref: HubRef, settings: HubSettings) -> list[str]:
    """Files of a repo revision: from the Hub, or from the local cache when offline."""
    if settings.offline:
        snapshots = storage(settings, ref.repo) / "snapshots"
        return sorted(
            {
                p.relative_to(snap).as_posix()
                for snap in snapshots.glob("*")
                for p in snap.rglob("*.gguf")
            }
        )
    from huggingface_hub import HfApi

    api = HfApi(endpoint=settings.endpoint, token=settings.token)
    info = hub_call(
        lambda: api.model_info(ref.repo, revision=ref.revision, timeout=settings.timeout),
        settings,
        ref.repo,
        ref.repo,
    )
    return [s.rfilename for s in (info.siblings or [])]


def resolve_file(ref: HubRef, settings: HubSettings) -> HubRef:
    """Pick the file a quant tag names (shortest match wins: the plain, non-variant one)."""
    if ref.filename is not None:
        if is_split(ref.filename):
            raise HubError("error.hub_split_unsupported", file=ref.filename)
        return ref
    files = list_files(ref, settings)
    matches = match_quant(files, ref.quant or "")
    if not matches:
        ggufs = [f for f in files if f.lower().endswith(".gguf")]
        if settings.offline:
            raise OfflineError(
                "error.offline_download",
                name=f"hf:{ref.repo}:{ref.quant}",
                reason=settings.offline_reason,
            )
        raise HubNotFoundError(
            "error.hub_no_quant",
            repo=ref.repo,
            quant=ref.quant,
            available=", ".join(ggufs) or "-",
        )
    chosen = min(matches, key=lambda f: (len(f), f))
    if is_split(chosen):
        raise HubError("error.hub_split_unsupported", file=chosen)
    return ref.with_file(chosen)
