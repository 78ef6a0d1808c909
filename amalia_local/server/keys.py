"""Who is asking: the server's API keys, each with a name and optional limits.

A department gives each person or tool its own key so that the audit log and /metrics
can say who used the server; the keys file holds one per line::

    # name  key                       optional limits
    alice   3f9c...e1                 requests_per_minute=30 tokens_per_day=200000
    grafana 7a0d...42

Blank lines and ``#`` comments are allowed. A line that cannot be read stops the
server at start with one line naming ``file:line``; the same file re-read later (SIGHUP)
keeps the keys in use when it is wrong, so a typo never locks everyone out or opens
the server. The single ``--api-key`` is one more key, named ``default``.

A key is looked up in constant time: the SHA-256 of what the client sent is compared
with the digest of every key, all of them, with ``hmac.compare_digest`` (equal lengths,
no early exit), so neither the time taken nor its variation says which key, or how much
of one, was right.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

from amalia_local.errors import AmaliaError
from amalia_local.formatting import Count
from amalia_local.i18n import Phrase

log = logging.getLogger(__name__)

SINGLE_KEY_NAME = "default"  # the name --api-key / $AMALIA_API_KEY is known by
MIN_KEY_CHARS = 8
MAX_KEYS = 10_000  # a bound on the file (and on /metrics' key labels)
MAX_FILE_BYTES = 4 * 1024 * 1024
# Names appear in log lines and Prometheus labels: plain, bounded, never "-" (no key).
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
LIMIT_FIELDS = ("requests_per_minute", "tokens_per_day")


class KeysFileError(AmaliaError):
    """The keys file cannot be read or one of its lines is wrong."""


@dataclass(frozen=True)
class KeyLimits:
    """Per-key allowances; ``None``: no limit."""

    requests_per_minute: int | None = None
    tokens_per_day: int | None = None

    @property
    def any(self) -> bool:
        return self.requests_per_minute is not None or self.tokens_per_day is not None


NO_LIMITS = KeyLimits()


@dataclass(frozen=True)
class Key:
    name: str
    digest: bytes  # SHA-256 of the key: the key itself is not kept
    limits: KeyLimits = NO_LIMITS


def digest(secret: str | bytes) -> bytes:
    data = secret.encode("utf-8") if isinstance(secret, str) else secret
    return hashlib.sha256(data).digest()


class _Bad(Exception):
    """One line's fault: a ``keys.*`` phrase and its parameters."""

    def __init__(self, reason: str, **params: object) -> None:
        self.reason = reason
        self.params = params


def parse_keys(text: str, path: Path) -> list[Key]:
    """Every key of a keys file, or :class:`KeysFileError` naming the first wrong line."""
    keys: list[Key] = []
    names: set[str] = set()
    digests: set[bytes] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        fields = raw.split()
        # a field starting with # starts a comment (a key may hold # elsewhere)
        comment = next((i for i, f in enumerate(fields) if f.startswith("#")), len(fields))
        fields = fields[:comment]
        if not fields:
            continue
        try:
            key = _key(fields, names, digests)
        except _Bad as bad:
            raise KeysFileError(
                "error.keys_file_line",
                path=path,
                line=number,
                reason=Phrase(f"keys.{bad.reason}", **bad.params),
            ) from None
        names.add(key.name)
        digests.add(key.digest)
        keys.append(key)
        if len(keys) > MAX_KEYS:
            raise KeysFileError("error.keys_file_too_many", path=path, max=Count(MAX_KEYS))
    if not keys:
        raise KeysFileError("error.keys_file_empty", path=path)
    return keys


def _key(fields: list[str], names: set[str], digests: set[bytes]) -> Key:
    if len(fields) < 2:
        raise _Bad("expected_name_key")
    name, secret = fields[0], fields[1]
    if not _NAME.fullmatch(name):
        raise _Bad("bad_name", name=name[:80])
    if len(secret) < MIN_KEY_CHARS:
        raise _Bad("short_key", min=Count(MIN_KEY_CHARS))
    if name in names:
        raise _Bad("duplicate_name", name=name)
    key_digest = digest(secret)
    if key_digest in digests:
        raise _Bad("duplicate_key")
    return Key(name, key_digest, _limits(fields[2:]))


def _limits(extras: list[str]) -> KeyLimits:
    values: dict[str, int] = {}
    for extra in extras:
        field, sep, value = extra.partition("=")
        if not sep or field not in LIMIT_FIELDS:
            raise _Bad("bad_field", field=extra[:80], fields=", ".join(LIMIT_FIELDS))
        if field in values:
            raise _Bad("duplicate_field", field=field)
        if not (value.isascii() and value.isdigit() and len(value) <= 15) or int(value) == 0:
            raise _Bad("bad_limit", field=field)
        values[field] = int(value)
    return KeyLimits(**values)


def read_keys_file(path: Path) -> list[Key]:
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise KeysFileError(
            "error.keys_file_unreadable", path=path, reason=exc.strerror or exc
        ) from None
    if len(data) > MAX_FILE_BYTES:
        raise KeysFileError("error.keys_file_unreadable", path=path, reason="larger than 4 MB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise KeysFileError("error.keys_file_unreadable", path=path, reason=exc) from None
    return parse_keys(text, path)


class Keyring:
    """The keys in force: read at start, swapped whole on :meth:`reload`.

    Readers take ``self._keys`` once (one reference, replaced atomically), so a reload
    in the middle of a lookup is never half seen.
    """

    def __init__(self, keys_file: Path | None = None, single_key: str | None = None) -> None:
        self.path = keys_file
        self._single = Key(SINGLE_KEY_NAME, digest(single_key)) if single_key else None
        self._reload_lock = threading.Lock()
        self._keys: tuple[Key, ...] = self._read()
        if keys_file is not None:
            _warn_if_readable_by_others(keys_file)

    @property
    def enabled(self) -> bool:
        """Whether clients must send a key at all (no keys: the server is open)."""
        return bool(self._keys)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(key.name for key in self._keys)

    def _read(self) -> tuple[Key, ...]:
        keys = read_keys_file(self.path) if self.path is not None else []
        if self._single is not None:
            if any(key.name == SINGLE_KEY_NAME for key in keys):
                raise KeysFileError("error.keys_file_default_name", path=self.path)
            keys.append(self._single)
        return tuple(keys)

    def identify(self, token: bytes | None) -> Key | None:
        """The key whose secret is ``token``; every key is compared, whatever matches."""
        keys = self._keys
        given = digest(token or b"")
        found: Key | None = None
        for key in keys:
            if hmac.compare_digest(given, key.digest):
                found = key
        return found if token else None

    def reload(self) -> bool:
        """Read the keys file again; when it is wrong, keep the keys in force (one line)."""
        if self.path is None:
            return False
        with self._reload_lock:
            try:
                keys = self._read()
            except KeysFileError as exc:
                log.warning(
                    "keys file not reloaded, the %d keys in use stay: %s", len(self._keys), exc
                )
                return False
            self._keys = keys
        log.warning("keys file reloaded: %d keys (%s)", len(keys), self.path)
        return True


def _warn_if_readable_by_others(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning(
            "the keys file %s can be read by other users of this machine; chmod 600 it", path
        )
