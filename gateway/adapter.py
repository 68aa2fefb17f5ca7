"""What an adapter is: the one interface between the gateway and a local system.

Most local systems will never speak the standard exchange protocol; the gateway goes to
them through an *adapter*, which translates the system's own format and transport. The
requirements below are numbered as in docs/adapters.md (R1…R16) and checked by the
reusable contract suite :mod:`gateway.adapter_contract`.

An adapter is a subclass of :class:`Adapter` that

* declares ``name`` (R1), the standard ``entities`` it handles (R2), and its settings as a
  JSON Schema 2020-12 ``settings_schema`` (R3); settings are validated when the adapter is
  built and bad ones raise :class:`AdapterSettingsError` naming the field;
* ``check()`` — can it reach its system? → :class:`CheckResult` (R4);
* ``read(entity, cursor, page_size)`` — changes since an opaque text ``cursor`` (``None``:
  from the beginning), one :class:`Page` at a time; reading the same cursor twice yields
  the same items, and ``page.next_cursor`` is what the gateway stores once the page is
  safely processed (R5, R6);
* ``to_standard(entity, native)`` / ``from_standard(entity, record)`` — the mapping, loss
  free both ways for every field the local system can hold (R7); a record that cannot be
  mapped raises :class:`MappingError` with :class:`~gateway.standard.issues.Issue` items
  whose pointers point into the NATIVE record (``/albp0003``, ``/姓名``) (R8);
* ``write(entity, records)`` — standard records in, one :class:`WriteResult` per record in
  the same order; one bad record never fails the others (R9); idempotent: writing the same
  record twice leaves one copy in the target (R10). Read-only adapters set
  ``writable = False`` (R11);
* ``delete(entity, keys)`` — the gateway's tombstones: removes (or marks deleted) what
  ``write`` wrote for each record number, one :class:`WriteResult` per key, idempotent; an
  adapter that can declares ``can_delete = True``, one that cannot leaves it ``False`` and
  push runs report the tombstones as skipped (R15);
* ``receiver_origins()`` — the names under which the adapter's system writes into this
  gateway by other ways (a federating gateway's client id): push runs do not send those
  changes back to it (R16);
* is registered in the entry-point group ``vgw.adapters`` (R12) — the gateway never imports
  an adapter by name: :meth:`Adapter.discover` / :func:`load_adapter`.

Errors: :class:`AdapterUnavailable` means "the system could not be reached or answered
with a transport failure — retry later" (the sync job retries with backoff);
any other :class:`AdapterError` is permanent. Per-record problems are never raised from
``write``: they are reported in that record's :class:`WriteResult`.

Adapters hold no gateway state (no database session, no Flask app): a sync job builds one
from a source's settings, calls it, and does the validation, upserts, signing and message
logging itself (R13). An HTTP adapter should use the ``http`` session it is given (tests
inject one; the gateway sets timeouts and retries on it) rather than creating its own.
An adapter that keeps records itself (an uploaded file) keeps them sealed with the
``sealer`` the gateway gives it and seals them again in ``reseal()`` (R14).
"""

from __future__ import annotations

import abc
import logging
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import IO, Any, ClassVar, Literal, Mapping, Protocol

import jsonschema
import requests

from gateway.standard.issues import Issue, pointer

__all__ = [
    "ENTRY_POINT_GROUP", "Adapter", "AdapterError", "AdapterSettingsError", "AdapterUnavailable",
    "AdapterNotFound", "CheckResult", "DeletesNotSupported", "Issue", "MappingError",
    "HOME", "NUMBER_KEYS", "NativeItem", "Page", "ReadOnlyAdapter", "UploadsNotAccepted", "WriteResult", "discover", "load_adapter", "pointer",
    "with_home",
]

ENTRY_POINT_GROUP = "vgw.adapters"

log = logging.getLogger(__name__)

Op = Literal["upsert", "delete"]

#: Each published entity and the key of its store number (docs/protocol.md, "How each record
#: is stored"): what the gateway's records and tombstones are identified by, in ``write``'s
#: records and in ``delete``'s keys alike.
NUMBER_KEYS: dict[str, str] = {
    "volunteer": "volunteer_no", "team": "team_no", "project": "project_no",
    "enrollment": "enrollment_no", "service_record": "record_no", "training": "training_no",
    "commendation": "commendation_no", "evaluation": "evaluation_no",
    "complaint": "complaint_no", "certificate": "certificate_no",
}


# -- errors --------------------------------------------------------------------------------

class AdapterError(Exception):
    """A permanent adapter failure (not worth retrying as is)."""


class AdapterUnavailable(AdapterError):
    """The local system could not be reached or failed in transport: retry later."""


class AdapterNotFound(AdapterError, LookupError):
    """No adapter of that name is registered in the ``vgw.adapters`` entry-point group."""


class ReadOnlyAdapter(AdapterError):
    """``write`` was called on an adapter that declares ``writable = False``."""


class DeletesNotSupported(AdapterError):
    """``delete`` was called on an adapter that declares ``can_delete = False``."""


class UploadsNotAccepted(AdapterError):
    """``accept_file`` was called on an adapter that does not read files."""


class AdapterSettingsError(AdapterError, ValueError):
    """The settings do not match the adapter's ``settings_schema``.

    ``field`` is a JSON Pointer into the settings (``/path``, ``/columns/姓名``; ``""`` for
    the whole object), ``message`` says what is wrong.
    """

    def __init__(self, adapter: str, field: str, message: str):
        self.adapter = adapter
        self.field = field
        self.message = message
        super().__init__(f"{adapter} adapter settings {field or '/'}: {message}")


class MappingError(AdapterError, ValueError):
    """A record could not be mapped; ``issues`` say where (pointer into the source record).

    Rule ids in use: ``mapping.missing`` (a required native field is absent),
    ``mapping.unknown_code`` (a code value with no counterpart), ``mapping.invalid``
    (a value of the wrong shape: date, number, area id, …), ``mapping.unknown_field``
    (a field the adapter does not know, where it is strict about that).
    """

    def __init__(self, issues: list[Issue]):
        self.issues = list(issues)
        super().__init__("; ".join(f"{i.pointer or '/'} {i.rule}: {i.message_en}"
                                   for i in self.issues) or "mapping failed")


#: The member of a standard record, in a push run's ``write`` to an adapter that ``federates``
#: and while a record is applied, that holds the record's home (docs/protocol.md, "Federation
#: identity"): never a field of the published schemas (they have no ``@``).
HOME = "@home"


def with_home(data: Any, home: Mapping[str, Any] | None) -> Any:
    """``data`` (a standard record) with ``home`` under :data:`HOME` — the one rule for
    attaching a record's home, wherever one is attached (a push item's ``home`` member, a
    pulled item's, a feed change's for a federating adapter's ``write``): only the given home
    says it, so a :data:`HOME` member already in ``data`` (a mapping's, a sender's) is dropped,
    and ``home=None`` leaves none. ``data`` itself is returned when there is nothing to change;
    anything but a dict is returned as it is (the shape checks refuse it)."""
    if not isinstance(data, dict):
        return data
    if home is None:
        return data if HOME not in data else {k: v for k, v in data.items() if k != HOME}
    return {**{k: v for k, v in data.items() if k != HOME}, HOME: home}


# -- values exchanged with the gateway -----------------------------------------------------

@dataclass(frozen=True, slots=True)
class CheckResult:
    """Whether the adapter can reach its system, and a human-readable reason."""

    ok: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class NativeItem:
    """One change read from the local system, still in its own format.

    ``native``: the record as the system has it (for ``op == "delete"`` at least its
    identity); ``source_id``: the system's own id for it (stable across reads; the gateway
    finds the stored record by ``(source, source_id)``); ``location``: where it came from,
    for error reports (``"row 12"``, ``"volunteers.json#3"``), or ``None``; ``home``: for an
    adapter that ``federates`` (R17), the record's home as the other gateway sent it
    (docs/protocol.md, "Federation identity"), else ``None``.
    """

    native: dict[str, Any]
    source_id: str
    op: Op = "upsert"
    location: str | None = None
    home: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Page:
    """One page of changes.

    ``next_cursor``: the cursor to store once every item of this page has been processed;
    reading from it yields what follows this page. ``None`` only while nothing at all has
    been read (an empty source read from ``None``). An empty page may still move the cursor
    past what it skipped (an empty file), but at the end of the data reading the final
    cursor again gives an empty page with that same cursor. ``has_more``: more items are
    available right now (read again from ``next_cursor`` without waiting for the schedule).
    """

    items: list[NativeItem]
    next_cursor: str | None
    has_more: bool


@dataclass(frozen=True, slots=True)
class WriteResult:
    """The outcome of writing one record: ``native_id`` is the target's id for it."""

    ok: bool
    native_id: str | None = None
    errors: list[Issue] = field(default_factory=list)


# -- the interface ------------------------------------------------------------------------

class Sealer(Protocol):
    """Seals bytes at rest under the gateway's personal-data keys (gateway.privacy.Vault:
    AES-256-GCM, the key named in the token, following ``vgw pii rotate``)."""

    def seal(self, data: bytes, aad: bytes = b"") -> bytes: ...

    def open(self, token: bytes, aad: bytes = b"") -> bytes: ...

    def sealed_under_newest(self, token: bytes) -> bool: ...


class Adapter(abc.ABC):
    """Base class of every adapter; see the module docstring and docs/adapters.md."""

    #: Set by the gateway (``load_adapter(..., sealer=…)``): an adapter that keeps copies of
    #: records itself (uploaded files) keeps them sealed with it; None: no keys at hand.
    sealer: Sealer | None = None

    #: registered name (the entry point's name), e.g. ``"national"``
    name: ClassVar[str] = ""
    #: standard entity names handled, e.g. ``("volunteer", "team")``
    entities: ClassVar[tuple[str, ...]] = ()
    #: JSON Schema (2020-12) of the settings; validated in ``__init__``
    settings_schema: ClassVar[dict[str, Any]] = {"type": "object"}
    #: ``False`` for sources that can only be read (``write`` raises ReadOnlyAdapter)
    writable: ClassVar[bool] = True
    #: ``True`` when ``delete`` removes records from the system (R15); push runs send such an
    #: adapter the feed's tombstones, and count them as skipped for one that cannot.
    can_delete: ClassVar[bool] = False
    #: Why the adapter cannot delete, for the run's report (when ``can_delete`` is False).
    cannot_delete_reason: ClassVar[str] = "the adapter declares no delete (can_delete = False)"
    #: ``True`` when the system is another gateway that speaks federation identity (R17): push
    #: runs hand ``write`` each record with its home under :data:`HOME` and ``delete`` the
    #: tombstones' homes (``homes=``); reads give each item's ``home``.
    federates: ClassVar[bool] = False
    #: How what the adapter receives is verified (the system's own signatures where it has
    #: them); sync runs record it with every batch in the message log.
    verification: ClassVar[str] = "the adapter's own checks of what the system answers"

    @property
    def schema_version(self) -> str:
        """The schema version of the standard records :meth:`to_standard` gives (and
        :meth:`from_standard` takes): "1" unless the adapter says otherwise (a sync run keeps
        a v2 record whole, gateway/exchange/national.py)."""
        return "1"

    def __init__(self, settings: Mapping[str, Any], *, http: requests.Session | None = None):
        self.settings: dict[str, Any] = self.validate_settings(settings)
        self._own_http = http is None
        self.http: requests.Session = http if http is not None else requests.Session()

    # -- settings --------------------------------------------------------------------

    @classmethod
    def validate_settings(cls, settings: Mapping[str, Any]) -> dict[str, Any]:
        """``settings`` as a plain dict, or :class:`AdapterSettingsError` naming the field."""
        if not isinstance(settings, Mapping):
            raise AdapterSettingsError(cls.name, "", "settings must be an object")
        data = _plain(settings)
        validator = jsonschema.Draft202012Validator(
            cls.settings_schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
        errors = sorted(validator.iter_errors(data), key=lambda e: (list(e.absolute_path), e.message))
        if errors:
            err = jsonschema.exceptions.best_match(errors) or errors[0]
            path = list(err.absolute_path)
            if err.validator == "required" and isinstance(err.validator_value, list):
                missing = [k for k in err.validator_value
                           if isinstance(err.instance, Mapping) and k not in err.instance]
                if missing:
                    path.append(missing[0])
            elif err.validator == "additionalProperties" and isinstance(err.instance, Mapping):
                extra = [k for k in err.instance
                         if k not in (err.schema.get("properties") or {})]
                if extra:
                    path.append(extra[0])
            raise AdapterSettingsError(cls.name, pointer(*path), err.message)
        return data

    # -- what every adapter implements ------------------------------------------------

    @abc.abstractmethod
    def check(self) -> CheckResult:
        """Can the adapter reach its system with these settings? Never raises."""

    @abc.abstractmethod
    def read(self, entity: str, cursor: str | None, page_size: int) -> Page:
        """At most ``page_size`` changes of ``entity`` after ``cursor`` (``None``: all)."""

    @abc.abstractmethod
    def to_standard(self, entity: str, native: dict[str, Any]) -> dict[str, Any]:
        """The native record in the published schema's keys, or :class:`MappingError`."""

    @abc.abstractmethod
    def from_standard(self, entity: str, record: dict[str, Any]) -> dict[str, Any]:
        """The standard record in the system's own format, or :class:`MappingError`
        (pointers into the standard record in that direction)."""

    def write(self, entity: str, records: list[dict[str, Any]]) -> list[WriteResult]:
        """Write standard records; one result per record, in order; idempotent."""
        raise ReadOnlyAdapter(f"the {self.name} adapter cannot write")

    def delete(self, entity: str, keys: list[str]) -> list[WriteResult]:
        """Delete the records the gateway numbers ``keys`` (the values of the entity's
        :data:`NUMBER_KEYS` field in the records ``write`` was given) from the system; one
        result per key, in order. Idempotent: a key the system no longer holds (or never
        held) answers ``ok``. Only for adapters that declare ``can_delete = True`` (R15)."""
        raise DeletesNotSupported(f"the {self.name} adapter cannot delete records: "
                                  f"{self.cannot_delete_reason}")

    def receiver_origins(self) -> frozenset[str]:
        """The origins (docs/protocol.md, Pull: ``origin``) of changes in *this* gateway's feed
        that the adapter's own system wrote here by another way than this source's pulls —
        e.g. the client id a federating gateway pushes in with. Push runs never send those
        changes back to it (no echo, R16). Default: none."""
        return frozenset()

    def accept_file(self, filename: str, data: IO[bytes]) -> str:
        """Keep a file uploaded for this source (``PUT /api/v1/sync/sources/{name}/files/{file}``)
        where the next run reads it; return the name it is kept under.

        Optional: only adapters that read files (spreadsheets) implement it. A name the
        adapter would not read raises :class:`MappingError` with an issue at ``/filename``.
        """
        raise UploadsNotAccepted(f"the {self.name} adapter does not take uploaded files")

    def reseal(self) -> int:
        """Seal again under the newest key every copy the adapter keeps sealed (``vgw pii
        rotate``); how many were rewritten. Optional: nothing kept, nothing to do."""
        return 0

    # -- helpers ----------------------------------------------------------------------

    def require_entity(self, entity: str) -> None:
        """Raise :class:`AdapterError` unless ``entity`` is one this adapter handles."""
        if entity not in self.entities:
            raise AdapterError(f"the {self.name} adapter does not handle {entity!r} "
                               f"(it handles {', '.join(self.entities)})")

    def close(self) -> None:
        """Release resources (files, sessions). The base closes the HTTP session it made."""
        if self._own_http:
            self.http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- discovery --------------------------------------------------------------------

    @staticmethod
    def discover() -> dict[str, type["Adapter"]]:
        """Every adapter registered in the ``vgw.adapters`` entry-point group, by name."""
        return discover()


def discover() -> dict[str, type[Adapter]]:
    """``{name: adapter class}`` from the ``vgw.adapters`` entry points (built-in ones too).

    An entry point that cannot be loaded, or is not an :class:`Adapter` subclass, is left
    out with an error in the log (one broken package must not hide the others);
    :func:`load_adapter` of that name raises the real error.
    """
    found: dict[str, type[Adapter]] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in found:
            continue
        try:
            found[ep.name] = _load(ep)
        except Exception:  # noqa: BLE001 - any import error of a third-party package
            log.exception("adapter entry point %s:%s (%s) cannot be loaded",
                          ENTRY_POINT_GROUP, ep.name, ep.value)
    return found


def _load(ep) -> type[Adapter]:
    cls = ep.load()
    if not (isinstance(cls, type) and issubclass(cls, Adapter)):
        raise AdapterError(f"entry point {ENTRY_POINT_GROUP}:{ep.name} ({ep.value}) "
                           "is not a gateway.adapter.Adapter subclass")
    return cls


def load_adapter(name: str, settings: Mapping[str, Any], *,
                 http: requests.Session | None = None, sealer: Sealer | None = None) -> Adapter:
    """Build the adapter registered as ``name`` with ``settings`` (validated); ``sealer``
    seals what it keeps at rest (:attr:`Adapter.sealer`)."""
    eps = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not eps:
        known = sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})
        raise AdapterNotFound(f"no adapter named {name!r} in the {ENTRY_POINT_GROUP} "
                              f"entry-point group (known: {', '.join(known) or 'none'})")
    adapter = _load(eps[0])(settings, http=http)
    adapter.sealer = sealer
    return adapter


def _plain(value: Any) -> Any:
    """Mappings and sequences (e.g. TOML tables, MappingProxy) as plain dicts and lists."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
