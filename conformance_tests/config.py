"""The suite's one configuration file (TOML): the system under test, its keys, scope, features.

``load_config(path)`` returns a frozen :class:`SuiteConfig` or raises :class:`ConfigError`
naming the field (``server.private_key: file not found (keys/x.pem)``); the command line
turns that into exit status 2. Paths in the file are relative to the file. TOML has no
null, so a feature is *unknown* (run its tests, report failures as failures) when it is
left out or written ``"unknown"``; ``true`` / ``false`` declare it implemented or not.
``example_config()`` is the commented file ``vgw-conformance init`` writes.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROLES = ("server", "client", "data")
ENTITIES = ("volunteer", "team", "project", "service_record", "enrollment", "training",
            "commendation", "evaluation", "complaint", "certificate")
KNOWN_FEATURES = ("push", "push_ndjson", "feed", "feed_tombstones", "idempotency",
                  "response_signatures", "validation_api")
ALGORITHMS = ("ed25519", "ecdsa-p256-sha256")
#: The schema versions the suite can test a system in (``[server] schema_version``,
#: ``run --schema-version``): the version its feed is read in and records are checked against.
SCHEMA_VERSIONS = ("1", "2")


class ConfigError(ValueError):
    """The file is refused; ``field`` is the dotted name of the offending key."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class SystemConfig:
    name: str
    base_url: str
    roles: tuple[str, ...]
    timeout_seconds: float = 30


@dataclass(frozen=True)
class ServerConfig:
    client_id: str = "conformance"
    private_key: Path | None = None            # resolved; None when not configured
    key_id: str = ""                           # "" = RFC 7638 thumbprint of the key
    algorithm: str = "ed25519"
    jwks: str = "/.well-known/jwks.json"       # as written in the file
    jwks_url: str | None = None                # absolute URL of the system's key set, or
    jwks_file: Path | None = None              # a local file holding it (exactly one is set)
    push_path: str = "/api/v1/exchange/batches"
    feed_path: str = "/api/v1/exchange/changes"
    validate_path: str = "/api/v1/validate"
    max_body_bytes: int = 0
    schema_version: str = "1"                  # "1": the feed read without a version


@dataclass(frozen=True)
class ScopeConfig:
    region_prefix: str = ""
    entities: tuple[str, ...] = ("volunteer", "team", "project", "service_record")


@dataclass(frozen=True)
class ClientConfig:
    host: str = "127.0.0.1"
    port: int = 8765
    wait_seconds: float = 120
    region_prefix: str = ""
    jwks: tuple[Path, ...] = ()                # JWK set file or PEM files, resolved
    client_id: str = ""


@dataclass(frozen=True)
class DataConfig:
    files: tuple[str, ...] = ()                # globs as written (relative to the file)
    validator_url: str = ""
    base_dir: Path = Path(".")                 # the config file's folder

    def paths(self) -> list[Path]:
        """Every file the globs match, sorted, each once."""
        found: dict[Path, None] = {}
        for pattern in self.files:
            p = Path(pattern)
            if p.is_absolute():
                matches = sorted(Path(p.anchor).glob(str(p.relative_to(p.anchor))))
            else:
                matches = sorted(self.base_dir.glob(pattern))
            for m in matches:
                if m.is_file():
                    found[m.resolve()] = None
        return list(found)


@dataclass(frozen=True)
class ReportConfig:
    dir: Path = Path("conformance-report")


@dataclass(frozen=True)
class StatementConfig:
    signing_key: Path | None = None


@dataclass(frozen=True)
class SuiteConfig:
    path: Path
    system: SystemConfig
    server: ServerConfig
    scope: ScopeConfig
    features: dict[str, bool | None]
    client: ClientConfig
    data: DataConfig
    report: ReportConfig
    statement: StatementConfig
    digest: str = field(default="", compare=False)   # SHA-256 of the settings, no secrets

    def feature(self, name: str) -> bool | None:
        return self.features.get(name)

    def public_dict(self) -> dict[str, Any]:
        """The settings as reports show them: paths as strings, no key material."""
        def clean(value: Any) -> Any:
            if isinstance(value, Path):
                return str(value)
            if isinstance(value, (list, tuple)):
                return [clean(v) for v in value]
            if isinstance(value, dict):
                return {k: clean(v) for k, v in value.items()}
            return value
        out = {name: clean(asdict(getattr(self, name))) for name in
               ("system", "server", "scope", "client", "data", "report", "statement")}
        out["features"] = dict(self.features)
        # a key's location is not a secret, its content is never read into the report;
        # still, keep only whether a key is configured, so reports do not reveal key paths
        out["server"]["private_key"] = bool(self.server.private_key)
        out["statement"]["signing_key"] = bool(self.statement.signing_key)
        out["data"].pop("base_dir", None)
        return out


# --- reading ------------------------------------------------------------------------------

_TABLES = ("system", "server", "scope", "features", "client", "data", "report", "statement")


def _str(table: dict, name: str, prefix: str, default: str | None = None, *, required=False) -> str:
    if name not in table:
        if required:
            raise ConfigError(f"{prefix}.{name}", "required")
        return default if default is not None else ""
    value = table[name]
    if not isinstance(value, str):
        raise ConfigError(f"{prefix}.{name}", f"must be a string, not {type(value).__name__}")
    return value


def _int(table: dict, name: str, prefix: str, default: int, *, minimum: int = 0,
         maximum: int | None = None) -> int:
    value = table.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{prefix}.{name}", f"must be an integer, not {type(value).__name__}")
    if value < minimum or (maximum is not None and value > maximum):
        raise ConfigError(f"{prefix}.{name}", f"must be between {minimum} and {maximum or '…'}")
    return value


def _number(table: dict, name: str, prefix: str, default: float) -> float:
    value = table.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError(f"{prefix}.{name}", "must be a positive number of seconds")
    return float(value)


def _str_list(table: dict, name: str, prefix: str, default: tuple[str, ...]) -> tuple[str, ...]:
    value = table.get(name, list(default))
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{prefix}.{name}", "must be a list of strings")
    return tuple(value)


def _url(value: str, name: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(name, f"must be an http(s) URL, not {value!r}")
    return value.rstrip("/")


def _file(base: Path, value: str, name: str) -> Path:
    path = (base / value).resolve()
    if not path.is_file():
        raise ConfigError(name, f"file not found ({value})")
    return path


def _unknown_keys(table: dict, allowed: tuple[str, ...], prefix: str) -> None:
    for key in table:
        if key not in allowed:
            raise ConfigError(f"{prefix}.{key}" if prefix else key,
                              f"unknown setting (known: {', '.join(allowed)})")


def _region_prefix(value: str, name: str) -> str:
    if value and (not value.isascii() or not value.isdigit() or len(value) not in (2, 4, 6)):
        raise ConfigError(name, f"must be 2, 4 or 6 digits of a region code, not {value!r}")
    return value


def _ed25519_key(path: Path) -> Path:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError("statement.signing_key", f"{path.name} is not an unencrypted Ed25519 "
                                                   "private key in PEM")
    return path


def _known_prefix(value: str, name: str) -> str:
    from .datagen import counties

    if value and not any(code.startswith(value) for code in counties()):
        raise ConfigError(name, f"no current county code starts with {value!r}")
    return value


def load_config(path: str | Path, run_roles: tuple[str, ...] = ()) -> SuiteConfig:
    """Read and check the file; raise ConfigError naming the first bad field.

    ``run_roles`` (``--role``): only the settings these roles need are required, so that a file
    whose data files are not there yet still runs ``--role server``; by default, every role of
    ``[system] roles``."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError("config", f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError("config", f"{path} is not UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("config", f"{path} is not valid TOML: {exc}") from None
    return parse_config(doc, path.resolve(), run_roles)


def parse_config(doc: dict[str, Any], path: Path, run_roles: tuple[str, ...] = ()) -> SuiteConfig:
    base = path.parent
    _unknown_keys(doc, _TABLES, "")
    for name in _TABLES:
        if name in doc and not isinstance(doc[name], dict):
            raise ConfigError(name, "must be a table")
    t = {name: doc.get(name, {}) for name in _TABLES}

    s = t["system"]
    _unknown_keys(s, ("name", "base_url", "roles", "timeout_seconds"), "system")
    roles = _str_list(s, "roles", "system", ("server",))
    for role in roles:
        if role not in ROLES:
            raise ConfigError("system.roles", f"unknown role {role!r} (known: {', '.join(ROLES)})")
    if not roles:
        raise ConfigError("system.roles", "name at least one role")
    checked = tuple(r for r in run_roles if r in ROLES) or roles  # the roles this run needs
    needs_base = "server" in checked
    base_url = _str(s, "base_url", "system", required=needs_base)
    system = SystemConfig(name=_str(s, "name", "system", required=True),
                          base_url=_url(base_url, "system.base_url") if base_url else "",
                          roles=roles, timeout_seconds=_number(s, "timeout_seconds", "system", 30))

    v = t["server"]
    _unknown_keys(v, ("client_id", "private_key", "key_id", "algorithm", "jwks", "push_path",
                      "feed_path", "validate_path", "max_body_bytes", "schema_version"),
                  "server")
    key_text = _str(v, "private_key", "server", required="server" in checked)
    private_key = _file(base, key_text, "server.private_key") if key_text and "server" in checked else None
    algorithm = _str(v, "algorithm", "server", "ed25519")
    if algorithm not in ALGORITHMS:
        raise ConfigError("server.algorithm", f"must be one of {', '.join(ALGORITHMS)}")
    jwks = _str(v, "jwks", "server", "/.well-known/jwks.json")
    jwks_url = jwks_file = None
    if jwks.startswith(("http://", "https://")):
        jwks_url = _url(jwks, "server.jwks")
    elif jwks.startswith("/") and not Path(jwks).is_file():
        jwks_url = system.base_url + jwks if system.base_url else None
    elif (base / jwks).is_file():
        jwks_file = (base / jwks).resolve()
    else:
        raise ConfigError("server.jwks", f"file not found ({jwks}); give a file, a URL or a "
                                         "path on system.base_url starting with /")
    paths = {}
    for name, default in (("push_path", "/api/v1/exchange/batches"),
                          ("feed_path", "/api/v1/exchange/changes"),
                          ("validate_path", "/api/v1/validate")):
        paths[name] = _str(v, name, "server", default)
        if not paths[name].startswith("/"):
            raise ConfigError(f"server.{name}", "must be a path starting with /")
    client_id = _str(v, "client_id", "server", "conformance")
    schema_version = _str(v, "schema_version", "server", "1")
    if schema_version not in SCHEMA_VERSIONS:
        raise ConfigError("server.schema_version", f"must be one of {', '.join(SCHEMA_VERSIONS)}")
    if "server" in checked and not client_id:
        raise ConfigError("server.client_id", "required for the server role")
    server = ServerConfig(client_id=client_id, private_key=private_key,
                          key_id=_str(v, "key_id", "server", ""), algorithm=algorithm,
                          jwks=jwks, jwks_url=jwks_url, jwks_file=jwks_file, **paths,
                          max_body_bytes=_int(v, "max_body_bytes", "server", 0),
                          schema_version=schema_version)

    c = t["scope"]
    _unknown_keys(c, ("region_prefix", "entities"), "scope")
    entities = _str_list(c, "entities", "scope", ScopeConfig.entities)
    for entity in entities:
        if entity not in ENTITIES:
            raise ConfigError("scope.entities", f"unknown entity {entity!r}")
    scope = ScopeConfig(region_prefix=_known_prefix(_region_prefix(
                            _str(c, "region_prefix", "scope", ""), "scope.region_prefix"),
                            "scope.region_prefix"),
                        entities=entities)

    features: dict[str, bool | None] = {name: None for name in KNOWN_FEATURES}
    for name, value in t["features"].items():
        if value in ("unknown", "null"):
            value = None
        if value is not None and not isinstance(value, bool):
            raise ConfigError(f"features.{name}", 'must be true, false or "unknown"')
        features[name] = value

    k = t["client"]
    _unknown_keys(k, ("host", "port", "wait_seconds", "region_prefix", "jwks", "client_id"), "client")
    jwks_value = k.get("jwks", [])
    if isinstance(jwks_value, str):
        jwks_value = [jwks_value] if jwks_value else []
    if not isinstance(jwks_value, list) or not all(isinstance(x, str) for x in jwks_value):
        raise ConfigError("client.jwks", "must be a file name or a list of them")
    if "client" in checked and not jwks_value:
        raise ConfigError("client.jwks", "required for the client role (the system's public keys)")
    client = ClientConfig(
        host=_str(k, "host", "client", "127.0.0.1"),
        port=_int(k, "port", "client", 8765, maximum=65535),
        wait_seconds=_number(k, "wait_seconds", "client", 120),
        region_prefix=_region_prefix(_str(k, "region_prefix", "client", scope.region_prefix),
                                     "client.region_prefix"),
        # checked only when the client role is run: a server-only file need not have them
        jwks=tuple(_file(base, x, "client.jwks") if "client" in checked else (base / x).resolve()
                   for x in jwks_value),
        client_id=_str(k, "client_id", "client", required="client" in checked))

    d = t["data"]
    _unknown_keys(d, ("files", "validator_url"), "data")
    validator = _str(d, "validator_url", "data", required="data" in checked)
    data = DataConfig(files=_str_list(d, "files", "data", ()),
                      validator_url=_url(validator, "data.validator_url") if validator else "",
                      base_dir=base)
    if "data" in checked:
        if not data.files:
            raise ConfigError("data.files", "required for the data role (globs of export files)")
        if not data.paths():
            raise ConfigError("data.files", f"no file matches {', '.join(data.files)}")

    r = t["report"]
    _unknown_keys(r, ("dir",), "report")
    report = ReportConfig(dir=(base / _str(r, "dir", "report", "conformance-report")).resolve())

    st = t["statement"]
    _unknown_keys(st, ("signing_key",), "statement")
    signing = _str(st, "signing_key", "statement", "")
    statement = StatementConfig(signing_key=_ed25519_key(_file(base, signing, "statement.signing_key"))
                                if signing else None)

    config = SuiteConfig(path=path, system=system, server=server, scope=scope, features=features,
                         client=client, data=data, report=report, statement=statement)
    return _digested(config)


def _digested(config: SuiteConfig) -> SuiteConfig:
    digest = hashlib.sha256(json.dumps(config.public_dict(), sort_keys=True,
                                       ensure_ascii=False).encode()).hexdigest()
    object.__setattr__(config, "digest", digest)
    return config


def with_schema_version(config: SuiteConfig, version: str) -> SuiteConfig:
    """``config`` testing in schema ``version`` (``run --schema-version``), digest anew."""
    if version not in SCHEMA_VERSIONS:
        raise ConfigError("server.schema_version", f"must be one of {', '.join(SCHEMA_VERSIONS)}")
    return _digested(replace(config, server=replace(config.server, schema_version=version)))


EXAMPLE = '''\
# vgw-conformance: the system under test (docs/conformance.md). Paths are relative to this file.

[system]
# A name for the system under test, shown in the report and the conformance statement.
name = "Example provincial platform"
# Where the system under test answers (the server role talks to it; checked first).
base_url = "http://127.0.0.1:8080"
# Which roles to test: "server" (the suite is a client of the system), "client" (the suite
# is a reference gateway the system pushes to and pulls from), "data" (export files).
roles = ["server", "data"]
# Seconds to wait for any one answer of the system.
timeout_seconds = 30

[server]
# The client id the system registered for the suite (docs/protocol.md §2).
client_id = "conformance"
# The suite's private key (PEM) whose public half the system registered for client_id.
private_key = "keys/conformance.private.pem"
# The key id to sign with; empty = the RFC 7638 thumbprint of the key.
key_id = ""
# The signature algorithm: "ed25519" or "ecdsa-p256-sha256".
algorithm = "ed25519"
# The system's published key set: a path on base_url, a URL, or a local JWK set file.
jwks = "/.well-known/jwks.json"
# Where the system accepts pushes.
push_path = "/api/v1/exchange/batches"
# Where the system serves its change feed.
feed_path = "/api/v1/exchange/changes"
# Where the system offers its validation API.
validate_path = "/api/v1/validate"
# The system's declared body limit in bytes; 0 = not declared (that test is skipped).
max_body_bytes = 0
# The schema version to test in: "1" (the feed read without a version) or "2" (the feed read
# with schema_version=2, its records checked against schemas/v2; pushes of v2 records).
# `vgw-conformance run --schema-version 2` overrides it.
schema_version = "1"

[scope]
# The region prefix the suite's client id may write (2, 4 or 6 digits of a region code).
region_prefix = "1101"
# The entities the system exchanges.
entities = ["volunteer", "team", "project", "service_record"]

[features]
# What the system implements: true, false (its tests are omitted) or "unknown" (or leave
# the line out): its tests run and failures count.
# Pushing batches of records (JSON).
push = true
# Pushing NDJSON bodies.
push_ndjson = true
# Serving a change feed.
feed = true
# Deletions in the feed as tombstones.
feed_tombstones = true
# Idempotency-Key on pushes.
idempotency = true
# Signed responses (RFC 9421) verifiable against the system's key set.
response_signatures = true
# A validation API (POST {validate_path}/{entity}).
validation_api = true

[client]
# Client role: the address the suite's reference endpoint listens on.
host = "127.0.0.1"
# Its port.
port = 8765
# Seconds to wait for the system to act after each prompt.
wait_seconds = 120
# The region prefix the system may write to the reference endpoint.
region_prefix = "1101"
# The system's public key(s) as registered: a JWK set file or PEM files.
jwks = ["keys/local-system.jwks.json"]
# The client id the system signs its requests with.
client_id = "local-system-01"

[data]
# Data role: export files to check (globs): .json (a record, an array or a batch
# envelope), .ndjson, or the national field-coded format (.json with "format": "vgw-national/1").
files = ["exports/*.ndjson"]
# A gateway whose validation API checks the records against the published standard.
validator_url = "http://127.0.0.1:8080"

[report]
# Folder for results.json, junit.xml, report.html (and a statement on an all-pass run).
dir = "conformance-report"

[statement]
# PEM of the operator's Ed25519 key to sign a conformance statement; empty = no statement.
signing_key = ""
'''


def example_config() -> str:
    return EXAMPLE
