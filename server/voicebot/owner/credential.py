"""The owner's credential: a secret of its own for ``/owner`` and ``/api/owner``, kept in an owner-only file.

Callers' browsers carry ``VOICEBOT_ACCESS_TOKEN`` in their URL, so anyone who can call the
restaurant has it; the owner's pages show those callers' names and numbers, so they take
another secret. It is ``VOICEBOT_OWNER_TOKEN`` when set, else a random token the server
creates on first start in a file only its user can read: ``<database file>.owner-token``
beside a SQLite database, ``owner-token`` in the data directory for PostgreSQL.
``voicebot owner-token`` shows it or makes a new one (``--rotate``). The file is read on
every check, so a running server takes a rotation at once: the old token, and every session
signed with it (:mod:`voicebot.owner.sessions`), stop working.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from pathlib import Path

from loguru import logger
from sqlalchemy.engine import make_url

from voicebot.config import OWNER_TOKEN_ENV

MIN_LENGTH = 16
_PRINTABLE = re.compile(r"[\x21-\x7e]+")  # what fits in an Authorization header as is
FILE_SUFFIX = ".owner-token"


class OwnerCredentialError(Exception):
    """The owner credential cannot be used as configured; the message says what to change."""


def token_file_for(database_url: str, data_dir: Path) -> Path:
    """Where a database's owner credential lives: beside its SQLite file, else ``owner-token`` in ``data_dir``."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        database = Path(url.database)
        return database.with_name(database.name + FILE_SUFFIX)
    return data_dir / "owner-token"


def new_token() -> str:
    """A fresh credential: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def _valid(token: str, source: str) -> str:
    token = token.strip()
    if len(token) < MIN_LENGTH or not _PRINTABLE.fullmatch(token):
        raise OwnerCredentialError(
            f"The owner credential in {source} must be at least {MIN_LENGTH} printable characters without spaces "
            f"(`uv run voicebot owner-token --rotate` makes a good one)")
    return token


class OwnerCredential:
    """The owner's secret, from ``VOICEBOT_OWNER_TOKEN`` or its file; compared in constant time."""

    def __init__(self, path: Path, fixed: str | None = None):
        self.path = path
        self._fixed = _valid(fixed, OWNER_TOKEN_ENV) if fixed else None
        self._last: str | None = None
        self.created = False  # this instance created the file (the first start)

    @classmethod
    def load(cls, path: Path, fixed: str | None = None) -> OwnerCredential:
        """The credential ``fixed`` by the environment, else the one in ``path`` (created if missing)."""
        credential = cls(path, fixed)
        credential.current()
        return credential

    @property
    def from_environment(self) -> bool:
        return self._fixed is not None

    @property
    def source(self) -> str:
        """Where the owner finds it (never the value itself)."""
        return OWNER_TOKEN_ENV if self._fixed else str(self.path)

    def current(self) -> str:
        """The credential now: the file is read every time, so a rotation elsewhere counts at once."""
        if self._fixed:
            return self._fixed
        token = self._read() or self._create()
        if self._last is not None and token != self._last:
            logger.info(f"The owner credential in {self.path} changed: the old one and its sessions no longer work")
        self._last = token
        return token

    def matches(self, given: str | None) -> bool:
        """Whether ``given`` is the credential, in constant time; an unreadable file matches nothing."""
        if not given:
            return False
        try:
            token = self.current()
        except (OSError, OwnerCredentialError) as e:
            logger.error(f"Cannot read the owner credential: {e}")
            return False
        return secrets.compare_digest(given.encode(), token.encode())

    def rotate(self) -> str:
        """A new credential in the file, replacing the old one atomically; returns it."""
        if self._fixed:
            raise OwnerCredentialError(f"The owner credential is set by {OWNER_TOKEN_ENV}: change it there")
        token = new_token()
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = self._private_temporary(token)
        os.replace(temporary, self.path)
        self._last = token
        return token

    def _read(self) -> str | None:
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            return None
        if info.st_mode & 0o077:
            os.chmod(self.path, stat.S_IRUSR | stat.S_IWUSR)
            logger.warning(f"{self.path} was readable by other users; it is owner-only now. "
                           "If others may have read it: uv run voicebot owner-token --rotate")
        return _valid(self.path.read_text(), str(self.path))

    def _create(self) -> str:
        """A new token file, appearing complete or not at all (a replica starting alongside reads the same one)."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = self._private_temporary(new_token())
        try:
            os.link(temporary, self.path)  # fails if another process created it first: use theirs
            self.created = True
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
        token = self._read()
        if token is None:  # removed by another process between the link and the read
            raise FileNotFoundError(f"{self.path} was removed as it was created")
        return token

    def _private_temporary(self, token: str) -> Path:
        """``token`` written to a new file beside ``path``, mode 0600 from its first moment (O_EXCL: never an
        existing file)."""
        temporary = self.path.with_name(f".{self.path.name}.{secrets.token_hex(8)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
        try:
            os.fchmod(fd, stat.S_IRUSR | stat.S_IWUSR)  # whatever the umask
            os.write(fd, f"{token}\n".encode())
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            os.unlink(temporary)
            raise
        os.close(fd)
        return temporary
