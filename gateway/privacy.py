"""Personal-information protection: encryption at rest, blind index, masking, log scrubbing.

ID numbers and mobile numbers are

* **encrypted at rest** with AES-256-GCM (randomised: the same text gives a different token
  each time; one cipher object per key and process, keys derived from the configured Fernet
  keys; tokens made by Fernet before stay readable, see :meth:`Vault.encrypt`) through
  :class:`Vault`. Several keys may be configured,
  newest first: the first encrypts, any of them decrypts, so a key is rotated without
  downtime (put a new key in front, restart, re-encrypt the data with :meth:`Vault.rotate`,
  then drop the old key);
* **found through a keyed blind index** (:meth:`Vault.blind_index`): an HMAC-SHA256 of the
  normalised value under a separate secret, so equality look-ups need no decryption and the
  index is useless without the secret (a plain hash of an 18-character ID is brute-forced in
  minutes);
* **masked in output** (:func:`mask_id_number`, :func:`mask_mobile`, :func:`mask_name`)
  unless the caller's scope allows more;
* **never written to a log**: code must not log them, and :class:`PiiLogFilter` masks anything
  that looks like a citizen ID or mobile number as defence in depth.

Keys come from the settings ``PII_ENCRYPTION_KEYS`` (comma-separated Fernet keys, newest
first) and ``PII_INDEX_KEY``; an empty setting is taken from ``<KEYS_DIR>/pii.json``, which is
generated on first start (see :meth:`Vault.from_config`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import tempfile
import threading
from pathlib import Path
from typing import Any, Iterable, Mapping
from urllib.parse import unquote_plus

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import Flask, current_app

from gateway.settings import SettingsError

__all__ = [
    "PiiKeyError",
    "PiiLogFilter",
    "Vault",
    "init_app",
    "install_log_filter",
    "mask_id_number",
    "mask_mobile",
    "mask_name",
    "scrub_text",
    "vault",
    "KEY_FILE_NAME",
    "LOGGERS",
]

log = logging.getLogger("gateway.privacy")

KEY_FILE_NAME = "pii.json"
EXTENSION_KEY = "privacy.vault"
MIN_INDEX_KEY_BYTES = 32


class PiiKeyError(Exception):
    """A token cannot be decrypted with any configured key (wrong key, dropped key or corrupt)."""


# --------------------------------------------------------------------------------------------
# Vault
# --------------------------------------------------------------------------------------------


class Vault:
    """Encrypts, decrypts and re-encrypts personal data, and computes its blind index.

    ``encryption_keys`` are Fernet keys (url-safe base64 of 32 bytes, as made by
    ``vgw pii generate-key``), newest first: the first encrypts, every one decrypts.
    ``index_key`` is the HMAC secret of the blind index (a ``str`` is used as its UTF-8 bytes;
    at least 32 bytes). Bad keys raise :class:`ValueError`; the keys never appear in a message
    or in ``repr``.
    """

    def __init__(self, encryption_keys: Iterable[str | bytes], index_key: bytes | str) -> None:
        keys = list(encryption_keys)
        if not keys:
            raise ValueError("at least one encryption key is required")
        fernets = []
        for number, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key))
            except (TypeError, ValueError):
                # The key itself is deliberately left out of the message.
                raise ValueError(
                    f"encryption key #{number} is not a valid Fernet key (32 url-safe "
                    "base64-encoded bytes; make one with `vgw pii generate-key`)"
                ) from None
        if isinstance(index_key, str):
            index_key = index_key.encode("utf-8")
        if not isinstance(index_key, bytes):
            raise ValueError("the index key must be bytes or str")
        if len(index_key) < MIN_INDEX_KEY_BYTES:
            raise ValueError(f"the index key must be at least {MIN_INDEX_KEY_BYTES} bytes long")
        self._fernet = MultiFernet(fernets)
        self._index_key = index_key
        # The index key's HMAC-SHA256 state before any message, built once: each index is a
        # copy of it fed the message (two of these per pushed person; 1.2 against 1.8 µs for
        # the one-shot hmac.digest, which sets the key up again every call).
        self._index_hmac = hmac.new(index_key, digestmod=hashlib.sha256)
        self._key_count = len(fernets)
        # One AES-GCM object per key, built once (per process): the bulk bodies' cipher.
        self._sealers = [_sealer(key) for key in keys]
        self._sealers_by_kid = {kid: aead for kid, aead in self._sealers}

    def __repr__(self) -> str:
        return f"<Vault: {self._key_count} encryption key(s), keys hidden>"

    # -- encryption ------------------------------------------------------------------------

    def encrypt(self, text: str) -> str:
        """Encrypt ``text`` under the newest key; a different token every call.

        AES-256-GCM with the key's cipher object built once per process (about a tenth of
        Fernet's cost per field): :data:`FIELD_PREFIX`, then url-safe base64 of the key's
        8-byte id, a random 12-byte nonce, ciphertext and tag. The prefix names the algorithm
        and format, the id the key, so tokens made by Fernet before (``gAAAA…``) stay
        readable and ``vgw pii rotate`` moves them (:meth:`rotate`)."""
        if not isinstance(text, str):
            raise TypeError(f"encrypt() takes str, not {type(text).__name__}")
        kid, aead = self._sealers[0]
        nonce = os.urandom(12)
        sealed = aead.encrypt(nonce, text.encode("utf-8"), _FIELD_AAD)
        return FIELD_PREFIX + base64.urlsafe_b64encode(kid + nonce + sealed).decode("ascii")

    def decrypt(self, token: str | bytes) -> str:
        """Decrypt a token made under any configured key (AES-GCM, or Fernet from before);
        :class:`PiiKeyError` otherwise."""
        raw = _token_bytes(token)
        try:
            if raw.startswith(_FIELD_PREFIX_BYTES):
                return self._open_field(raw).decode("utf-8")
            return self._fernet.decrypt(raw).decode("utf-8")
        except (InvalidToken, InvalidTag, ValueError):
            raise PiiKeyError(
                "personal data cannot be decrypted: it was encrypted under a key that is not "
                "configured (dropped from PII_ENCRYPTION_KEYS before `vgw pii rotate`?) or the "
                "token is corrupt"
            ) from None

    def _open_field(self, raw: bytes) -> bytes:
        body = base64.urlsafe_b64decode(raw[len(_FIELD_PREFIX_BYTES):])
        aead = self._sealers_by_kid.get(body[:8])
        if aead is None or len(body) < 8 + 12 + 16:
            raise ValueError("unknown key")
        return aead.decrypt(body[8:20], body[20:], _FIELD_AAD)

    def field_current(self, token: str | bytes) -> bool:
        """Whether ``token`` is AES-GCM under the newest key (what :meth:`rotate` makes)."""
        raw = _token_bytes(token)
        if not raw.startswith(_FIELD_PREFIX_BYTES):
            return False
        try:
            body = base64.urlsafe_b64decode(raw[len(_FIELD_PREFIX_BYTES):])
        except ValueError:
            return False
        return body[:8] == self._sealers[0][0]

    def rotate(self, token: str | bytes) -> str:
        """The token re-encrypted under the newest key with AES-GCM (a Fernet token becomes an
        AES-GCM one); a token already current is returned as it is."""
        if self.field_current(token):
            return token if isinstance(token, str) else token.decode("ascii")
        try:
            return self.encrypt(self.decrypt(token))
        except PiiKeyError:
            raise PiiKeyError(
                "personal data cannot be re-encrypted: no configured key decrypts it"
            ) from None

    def fernet_encrypt(self, text: str) -> str:
        """A Fernet token under the newest key, as the gateway made before AES-GCM (tests of
        old data and of ``vgw pii rotate`` use it)."""
        return self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    # -- bulk bytes: message-log bodies, stored answers ----------------------------------------

    def seal(self, data: bytes, aad: bytes = b"") -> bytes:
        """Encrypt bytes under the newest key with AES-256-GCM: :data:`SEAL_PREFIX`, the key's
        8-byte id, a random 12-byte nonce, then ciphertext and tag. ``aad`` (e.g. where the
        bytes are stored) is authenticated, not stored: the same ``aad`` must open them."""
        kid, aead = self._sealers[0]
        nonce = os.urandom(12)
        return SEAL_PREFIX + kid + nonce + aead.encrypt(nonce, bytes(data), aad or None)

    def open(self, token: bytes, aad: bytes = b"") -> bytes:
        """Decrypt :meth:`seal`'s output under whichever configured key made it;
        :class:`PiiKeyError` if none did or it was altered."""
        from cryptography.exceptions import InvalidTag

        token = bytes(token)
        if not token.startswith(SEAL_PREFIX):
            raise PiiKeyError("not a sealed token")
        head = len(SEAL_PREFIX)
        aead = self._sealers_by_kid.get(token[head:head + 8])
        if aead is None:
            raise PiiKeyError("sealed under a key that is not configured (dropped from "
                              "PII_ENCRYPTION_KEYS before `vgw pii rotate`?)")
        try:
            return aead.decrypt(token[head + 8:head + 20], token[head + 20:], aad or None)
        except InvalidTag:
            raise PiiKeyError("sealed data is corrupt or was moved") from None

    def sealed_under_newest(self, token: bytes) -> bool:
        head = len(SEAL_PREFIX)
        return bytes(token[:head + 8]) == SEAL_PREFIX + self._sealers[0][0]

    # -- blind index -----------------------------------------------------------------------

    def blind_index(self, kind: str, value: str) -> str:
        """Hex HMAC-SHA256 of ``f"{kind}\\x00{normalised value}"`` under the index key.

        ``kind`` says what the value is, e.g. ``"id:01"`` for a number of document type 01 or
        ``"mobile"``, so the same digits under different document types (or as a mobile) give
        different indexes and cannot be linked. The value is normalised by stripping
        surrounding white space and upper-casing (``...002x`` and ``...002X`` index the same);
        any other canonical form (e.g. dropping ``+86`` from a mobile) is the caller's job,
        and must be the same when storing and when looking up.
        """
        if not isinstance(kind, str) or not kind or "\x00" in kind:
            raise ValueError("kind must be a non-empty str without NUL characters")
        if not isinstance(value, str):
            raise TypeError(f"blind_index() takes a str value, not {type(value).__name__}")
        normalised = value.strip().upper()
        if not normalised:
            raise ValueError("cannot index an empty value")
        message = f"{kind}\x00{normalised}".encode("utf-8")
        mac = self._index_hmac.copy()
        mac.update(message)
        return mac.hexdigest()

    # -- configuration ---------------------------------------------------------------------

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "Vault":
        """Build the vault from the settings; an empty setting comes from ``<KEYS_DIR>/pii.json``.

        The key file is created on first use (folder mode 0700, file mode 0600, written
        atomically and never overwritten, so workers starting together agree on one file). A
        WARNING says once per process that generated keys are in use (without printing them).
        A malformed key raises :class:`SettingsError` naming the setting.
        """
        keys_text = str(config.get("PII_ENCRYPTION_KEYS") or "").strip()
        index_text = str(config.get("PII_INDEX_KEY") or "").strip()
        keys_origin = index_origin = "settings"
        if not keys_text or not index_text:
            path, stored = _load_or_create_key_file(config)
            if not keys_text:
                keys, keys_origin = stored["encryption_keys"], f"key file {path}"
            if not index_text:
                index_text, index_origin = stored["index_key"], f"key file {path}"
        if keys_text:
            keys = [k.strip() for k in keys_text.split(",") if k.strip()]
            if not keys:
                raise SettingsError("PII_ENCRYPTION_KEYS: no key given")
        for number, key in enumerate(keys, start=1):
            try:
                Fernet(key)
            except (TypeError, ValueError):
                raise SettingsError(
                    f"PII_ENCRYPTION_KEYS{_origin_note(keys_origin)}: key #{number} is not a "
                    "valid Fernet key (32 url-safe base64-encoded bytes; make one with "
                    "`vgw pii generate-key`)"
                ) from None
        if len(index_text.encode("utf-8")) < MIN_INDEX_KEY_BYTES:
            raise SettingsError(
                f"PII_INDEX_KEY{_origin_note(index_origin)}: must be at least "
                f"{MIN_INDEX_KEY_BYTES} bytes long (a random secret)"
            )
        return cls(keys, index_text)


#: What a :meth:`Vault.seal` token starts with: the algorithm and format (AES-256-GCM, v1).
SEAL_PREFIX = b"vgw-aesgcm1:"
#: What a field token (:meth:`Vault.encrypt`) starts with: AES-256-GCM, field format v1.
#: A Fernet token starts with ``gAAAA`` (version byte 0x80), so the two never collide.
FIELD_PREFIX = "aesgcm1."
_FIELD_PREFIX_BYTES = FIELD_PREFIX.encode("ascii")
#: Authenticated with every field token: a sealed blob's bytes never open as a field.
_FIELD_AAD = b"vgw personal data field v1"


def _sealer(fernet_key: str | bytes):
    """(key id, AESGCM) for one configured key: an AES-256 key derived from the Fernet key
    with HKDF-SHA256, so one setting (PII_ENCRYPTION_KEYS) and one rotation cover both."""
    import base64

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    raw = base64.urlsafe_b64decode(fernet_key)
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=b"vgw personal data, AES-256-GCM bulk bodies, v1").derive(raw)
    kid = hashlib.sha256(b"vgw-kid\x00" + derived).digest()[:8]
    return kid, AESGCM(derived)


def _token_bytes(token: str | bytes) -> bytes:
    if isinstance(token, str):
        return token.encode("ascii", errors="replace")
    if isinstance(token, bytes):
        return token
    raise TypeError(f"a token is str or bytes, not {type(token).__name__}")


def _origin_note(origin: str) -> str:
    return "" if origin == "settings" else f" (from {origin})"


_warned_key_files: set[str] = set()
_key_file_lock = threading.Lock()


def _load_or_create_key_file(config: Mapping[str, Any]) -> tuple[Path, dict[str, Any]]:
    keys_dir = str(config.get("KEYS_DIR") or "")
    if not keys_dir:
        raise SettingsError("KEYS_DIR: not set, and PII keys are needed from the key file")
    folder = Path(keys_dir)
    path = folder / KEY_FILE_NAME
    with _key_file_lock:
        created = False
        if not path.exists():
            created = _create_key_file(folder, path)
        stored = _read_key_file(path)
        if str(path) not in _warned_key_files:
            _warned_key_files.add(str(path))
            # Loud once, when the file is made; afterwards every CLI command would repeat it.
            (log.warning if created else log.info)(
                "personal-data keys %s %s are in use: back this file up (data encrypted under "
                "it is lost without it) and set PII_ENCRYPTION_KEYS / PII_INDEX_KEY in production",
                "generated in" if created else "from the generated key file", path,
            )
        if os.name == "posix" and path.stat().st_mode & 0o077:
            log.warning("key file %s is readable by group or others; run chmod 600 on it", path)
    return path, stored


def _create_key_file(folder: Path, path: Path) -> bool:
    """Write a new key file atomically; False if another process created it first."""
    try:
        folder.mkdir(mode=0o700, parents=True)
        os.chmod(folder, 0o700)  # mkdir's mode is reduced by the umask
    except FileExistsError:
        pass
    except OSError as exc:
        raise SettingsError(f"KEYS_DIR: cannot create {folder}: {exc.strerror}") from exc
    content = json.dumps(
        {"encryption_keys": [Fernet.generate_key().decode("ascii")],
         "index_key": secrets.token_urlsafe(32)},
        indent=2,
    ) + "\n"
    try:
        fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=".pii-", suffix=".tmp")  # mode 0600
    except OSError as exc:
        raise SettingsError(f"KEYS_DIR: cannot write in {folder}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            # link() fails if the file exists: a key file is never overwritten, so workers
            # starting at the same moment all end up with the one that was written first.
            os.link(tmp_name, path)
        except FileExistsError:
            return False
        except OSError:
            # File systems without hard links: replace only if still absent (small race).
            if path.exists():
                return False
            os.replace(tmp_name, path)
        _fsync_dir(folder)
        return True
    except OSError as exc:
        raise SettingsError(f"KEYS_DIR: cannot write {path}: {exc.strerror}") from exc
    finally:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_key_file(path: Path) -> dict[str, Any]:
    where = f"key file {path}"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"KEYS_DIR: cannot read {where}: {exc.strerror}") from exc
    except ValueError:
        raise SettingsError(f"KEYS_DIR: {where} is not valid JSON") from None
    if not isinstance(data, dict):
        raise SettingsError(f"KEYS_DIR: {where} must hold a JSON object")
    keys = data.get("encryption_keys")
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
        raise SettingsError(
            f"PII_ENCRYPTION_KEYS (from {where}): \"encryption_keys\" must be a non-empty list "
            "of strings"
        )
    if not isinstance(data.get("index_key"), str):
        raise SettingsError(f"PII_INDEX_KEY (from {where}): \"index_key\" must be a string")
    return data


# --------------------------------------------------------------------------------------------
# Masking (pure functions: never raise, None gives "")
# --------------------------------------------------------------------------------------------


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    try:
        return value if isinstance(value, str) else str(value)
    except Exception:  # a broken __str__ must not break output
        return ""


def _keep(text: str, head: int, tail: int) -> str:
    hidden = len(text) - head - tail
    return text[:head] + "*" * hidden + (text[len(text) - tail:] if tail else "")


def mask_id_number(value: Any) -> str:
    """Mask a document number, same length: ``110101********123X``.

    14 characters or more (citizen IDs, 18 or 15): the first 6 and last 4 are kept. 8–13
    characters (passports, permits): first 2 and last 2, so that at least half stays hidden.
    Shorter: the last 2 only (nothing at all for 3 characters or fewer).
    """
    text = _as_text(value).strip()
    n = len(text)
    if n >= 14:
        return _keep(text, 6, 4)
    if n >= 8:
        return _keep(text, 2, 2)
    if n >= 4:
        return _keep(text, 0, 2)
    return "*" * n


def mask_mobile(value: Any) -> str:
    """Mask a phone number, same length: ``138****8000`` (first 3 and last 4 kept).

    Shorter than 11 characters: the last 4 only (7–10), the last 2 (4–6), or nothing.
    """
    text = _as_text(value).strip()
    n = len(text)
    if n >= 11:
        return _keep(text, 3, 4)
    if n >= 7:
        return _keep(text, 0, 4)
    if n >= 4:
        return _keep(text, 0, 2)
    return "*" * n


# Compound (two-character) surnames kept whole by mask_name: 欧阳娜娜 → 欧阳**.
COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 司空 夏侯 轩辕 令狐 端木 "
    "独孤 南宫 西门 百里 呼延 澹台 公羊 万俟 闻人 赫连 申屠 钟离 太史 濮阳 单于 东郭 "
    "淳于 拓跋 左丘 谷梁 公冶 宗政 梁丘 第五 仲孙 叔孙 亓官 闾丘 子车 乐正 漆雕".split()
)


def mask_name(value: Any) -> str:
    """Mask a name for public pages, same length: ``王*``, ``张**``, ``欧阳**``.

    The surname is kept (the first character, or the first two for a compound surname such
    as 欧阳 when more follows); every other character becomes ``*``. A one-character value
    becomes ``*``.
    """
    text = _as_text(value).strip()
    n = len(text)
    if n <= 1:
        return "*" * n
    head = 2 if n > 2 and text[:2] in COMPOUND_SURNAMES else 1
    return _keep(text, head, 0)


# --------------------------------------------------------------------------------------------
# Log scrubbing
# --------------------------------------------------------------------------------------------

# An 18-character mainland citizen ID: 17 digits and a check digit or X. The boundaries are
# ASCII letters/digits rather than \b, so an ID written against Chinese text ("身份证号1101…")
# is still caught while a longer alphanumeric run (a hash, a 19-digit number) is not.
ID_NUMBER_RE = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
# A mainland mobile, optionally with +86/0086/86 and 3-4-4 spaces or hyphens, not inside a
# longer run of digits.
MOBILE_RE = re.compile(
    r"(?<![0-9])(?P<prefix>(?:\+|00)?86[ -]?)?"
    r"(?P<number>1[3-9][0-9](?P<sep>[ -]?)[0-9]{4}(?P=sep)[0-9]{4})(?![0-9])"
)


# Other document types of the id_type code table (schemas/codes/id_type.csv), in the forms
# their issuers use, standing alone (not inside a longer letter/digit run): 02 Hong Kong
# identity card A123456(7); 03 Macau identity card 1234567(8); 04 Taiwan identity card
# A123456789; 05 passports (E12345678, EA1234567, G12345678, D/S/P1234567); the mainland's
# permits for Hong Kong and Macau (C12345678, CA1234567) and the return permits (回乡证
# H1234567801, M12345678). Bare 8-digit numbers (台胞证) are too common to guess at: in a URL
# they are caught by their parameter's name (PERSONAL_PARAMETERS).
DOCUMENT_RE = re.compile(
    r"(?<![0-9A-Za-z])(?:"
    r"[A-Z]{1,2}[0-9]{6}\([0-9A]\)"          # 香港身份证
    r"|[157][0-9]{6}\([0-9]\)"               # 澳门身份证
    r"|[A-Z][12][0-9]{8}"                     # 台湾身份证
    r"|[EG][0-9]{8}|E[A-HJ-NP-Z][0-9]{7}|[DSP]E?[0-9]{7}"  # 护照
    r"|C[0-9]{8}|C[A-HJ-NP-Z][0-9]{7}"        # 往来港澳通行证
    r"|[HM][0-9]{8}(?:[0-9]{2})?"             # 港澳居民来往内地通行证
    r")(?![0-9A-Za-z])")
# A mobile written with dots or parentheses (+86 (138) 0013 8000, 138.0013.8000) as well.
MOBILE_LOOSE_RE = re.compile(
    r"(?<![0-9])(?P<prefix>\(?(?:\+|00)?86\)?[ .-]?)?"
    r"(?P<number>\(?1[3-9][0-9]\)?[ .-]?[0-9]{4}[ .-]?[0-9]{4})(?![0-9])")
#: Parameter names whose value is personal data, whatever it looks like: their values are
#: withheld wherever a query string or form body appears in a log line (an access log's
#: request line, a referer), in any spelling or percent-encoding of the name.
PERSONAL_PARAMETERS = frozenset({"id_number", "idnumber", "id_no", "idno", "idcard", "id_card",
                                 "mobile", "contact_mobile", "guardian_mobile", "phone", "tel"})
_PARAMETER_RE = re.compile(r"(?P<lead>[?&;])(?P<name>[^=&;\s\"'?#]{1,64})=(?P<value>[^&;\s\"'#]*)")
# A run of URL text holding at least one percent-escape (decoded before it is checked).
_ENCODED_RE = re.compile(r"(?:[0-9A-Za-z._~+()-]|%[0-9A-Fa-f]{2})*%[0-9A-Fa-f]{2}"
                         r"(?:[0-9A-Za-z._~+()-]|%[0-9A-Fa-f]{2})*")
_WITHHELD = "[withheld]"


def _mask_mobile_match(match: re.Match[str]) -> str:
    digits = re.sub(r"[ .()-]", "", match.group("number"))
    return (match.group("prefix") or "") + mask_mobile(digits)


def _withhold_parameter(match: re.Match[str]) -> str:
    name = unquote_plus(match.group("name")).strip().lower()
    if name in PERSONAL_PARAMETERS and match.group("value"):
        return f"{match.group('lead')}{match.group('name')}={_WITHHELD}"
    return match.group(0)


def _decoded_run(match: re.Match[str]) -> str:
    encoded = match.group(0)
    decoded = unquote_plus(encoded)
    return encoded if _scrub_plain(decoded) == decoded else _WITHHELD


def _scrub_plain(text: str) -> str:
    text = ID_NUMBER_RE.sub(lambda m: mask_id_number(m.group(0)), text)
    text = DOCUMENT_RE.sub(lambda m: mask_id_number(m.group(0)), text)
    return MOBILE_LOOSE_RE.sub(_mask_mobile_match, text)


def scrub_text(text: str) -> str:
    """``text`` with every citizen-ID-like, other-document-like and mobile-like number
    masked, in clear or percent-encoded, and the values of personal-data parameters of any
    query string in it withheld (issue 11, finding 5)."""
    if not text:
        return text
    if "=" in text:
        text = _PARAMETER_RE.sub(_withhold_parameter, text)
    if "%" in text:
        text = _ENCODED_RE.sub(_decoded_run, text)
    return _scrub_plain(text)


class PiiLogFilter(logging.Filter):
    """Masks citizen ID and mobile numbers in a log record before any formatter sees it.

    The record's message is formatted (``msg % args``) and scrubbed; if anything was masked,
    ``record.msg`` becomes the clean text and ``record.args`` is emptied, so every handler and
    formatter after this filter (and every one sharing the record) sees clean text. Records
    without personal data are left untouched. Exception and stack text are formatted and
    scrubbed too (``record.exc_text``). Never drops a record.

    This is defence in depth: code must not log personal data in the first place.
    """

    _DONE = "_pii_scrubbed"

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, self._DONE, False):
            return True
        try:
            self._scrub(record)
        except Exception:  # scrubbing must never break logging
            record.msg, record.args = "[log message withheld: it could not be scrubbed]", ()
        setattr(record, self._DONE, True)
        return True

    @staticmethod
    def _scrub(record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:
            # msg and args do not fit together: scrub them apart, logging reports the error.
            if isinstance(record.msg, str):
                record.msg = scrub_text(record.msg)
            record.args = _scrub_args(record.args)
        else:
            clean = scrub_text(message)
            if clean != message:
                record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:
            # Pre-formatted with the standard layout, so formatters reuse the clean text.
            record.exc_text = _formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub_text(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub_text(record.stack_info)


_formatter = logging.Formatter()


def _scrub_args(args: Any) -> Any:
    if isinstance(args, Mapping):
        return {k: scrub_text(v) if isinstance(v, str) else v for k, v in args.items()}
    if isinstance(args, tuple):
        return tuple(scrub_text(v) if isinstance(v, str) else v for v in args)
    return args


#: Loggers the filter is attached to (with their existing descendants and all their handlers).
LOGGERS = ("gateway", "werkzeug", "gunicorn.error", "gunicorn.access", "sqlalchemy.engine")

_log_filter = PiiLogFilter()


def install_log_filter(extra_loggers: Iterable[logging.Logger] = ()) -> PiiLogFilter:
    """Attach the one :class:`PiiLogFilter` where it catches the most; safe to call again.

    A filter on a *logger* only sees records created on that very logger, not records
    propagated from its children; a filter on a *handler* sees every record the handler
    emits. So the filter goes on

    * the loggers in :data:`LOGGERS`, every descendant of them that exists now, and
      ``extra_loggers`` (the Flask app's logger);
    * every handler of those loggers and of the root logger, Flask's default handler and
      ``logging.lastResort``.

    Residual gap: a record from some other logger (a third-party library, or a ``gateway.*``
    logger first created after this call) that reaches a handler added after this call (e.g.
    by a later ``logging.config`` or by a test's log capture) is not scrubbed. Call this
    again after reconfiguring logging.
    """
    from flask.logging import default_handler

    manager = logging.Logger.manager
    loggers: list[logging.Logger] = [logging.getLogger(name) for name in LOGGERS]
    for name, existing in list(manager.loggerDict.items()):
        if isinstance(existing, logging.Logger) and any(
            name.startswith(prefix + ".") for prefix in LOGGERS
        ):
            loggers.append(existing)
    loggers.extend(extra_loggers)
    handlers: list[logging.Handler] = list(logging.getLogger().handlers)
    handlers.append(default_handler)
    if logging.lastResort is not None:
        handlers.append(logging.lastResort)
    for logger in loggers:
        logger.addFilter(_log_filter)  # addFilter ignores a filter already there
        handlers.extend(logger.handlers)
    for handler in handlers:
        handler.addFilter(_log_filter)
    return _log_filter


# --------------------------------------------------------------------------------------------
# Flask wiring
# --------------------------------------------------------------------------------------------


def init_app(app: Flask) -> None:
    """Build the app's :class:`Vault` once (bad keys stop start-up) and scrub the logs."""
    app.extensions[EXTENSION_KEY] = Vault.from_config(app.config)
    # Every store session carries the vault (``session.info["vault"]``), so code that holds
    # a session (the message log's encrypted bodies) needs no app context to reach it.
    sessions = app.extensions.get("store.sessionmaker")
    if sessions is not None:
        sessions.configure(info={"vault": app.extensions[EXTENSION_KEY]})
    install_log_filter(extra_loggers=[app.logger])


def vault() -> Vault:
    """The current app's :class:`Vault`."""
    try:
        return current_app.extensions[EXTENSION_KEY]
    except KeyError:
        raise RuntimeError("gateway.privacy.init_app() was not called for this app") from None
