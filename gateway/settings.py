"""Layered settings: built-in defaults → TOML file → ``GATEWAY_*`` environment → test overrides.

Every setting is declared once in ``SETTINGS`` with its type, default and a check. The
layers are merged in :func:`load_settings` and checked once; a bad value raises
:class:`SettingsError` naming the setting and the layer it came from, which stops start-up.
``config/gateway.toml`` documents every setting in the same order.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ENV_PREFIX = "GATEWAY_"
CONFIG_FILE_ENV = "GATEWAY_CONFIG_FILE"


class SettingsError(ValueError):
    """A setting is unknown, of the wrong type or out of range."""


@dataclass(frozen=True)
class Setting:
    name: str
    type: type
    default: Any
    help: str
    check: Callable[[Any], str | None] | None = None


def _positive(value: Any) -> str | None:
    return None if value > 0 else "must be greater than 0"


def _non_negative(value: Any) -> str | None:
    return None if value >= 0 else "must be 0 or more"


def _timezone(value: str) -> str | None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {value!r}"
    return None


def _database_url(value: str) -> str | None:
    if value and not value.startswith(("sqlite", "postgresql")):
        return "only sqlite:// and postgresql:// URLs are supported"
    return None


def _log_level(value: str) -> str | None:
    levels = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
    return None if value.upper() in levels else f"must be one of {sorted(levels)}"


def _http_url(value: str) -> str | None:
    return None if value.startswith(("http://", "https://")) else "must start with http:// or https://"


def _public_base_url(value: str) -> str | None:
    return None if not value else _http_url(value)


def _font_file(value: str) -> str | None:
    if value and not Path(value).is_file():
        return f"{value!r} is not a file; point it at a TrueType (.ttf/.ttc) font with Chinese glyphs"
    return None


def _age(value: int) -> str | None:
    return None if 0 <= value <= 18 else "must be between 0 and 18"


def read_population_file(path: str | Path) -> dict[str, int]:
    """Population figures ``{region code: population}`` from a ``code,population`` CSV.

    Blank lines and lines starting with ``#`` are skipped. A bad row raises ValueError naming
    its line.
    """
    with Path(path).open(encoding="utf-8-sig") as fh:
        rows = [(n, line.strip()) for n, line in enumerate(fh, 1)
                if line.strip() and not line.lstrip().startswith("#")]
    if not rows or rows[0][1].replace(" ", "") != "code,population":
        raise ValueError("the first row must be the header 'code,population'")
    figures: dict[str, int] = {}
    for number, line in rows[1:]:
        code, _, population = (part.strip() for part in line.partition(","))
        if not (code.isdigit() and len(code) in (2, 4, 6)):
            raise ValueError(f"line {number}: region code must be 2, 4 or 6 digits")
        if not population.isdigit() or int(population) <= 0:
            raise ValueError(f"line {number}: population must be a whole number above 0")
        if code in figures:
            raise ValueError(f"line {number}: region {code} is listed twice")
        figures[code] = int(population)
    return figures


def _population_file(value: str) -> str | None:
    if not value:
        return None
    try:
        read_population_file(value)
    except OSError as exc:
        return f"cannot read {value}: {exc.strerror}"
    except ValueError as exc:
        return f"{value}: {exc}"
    return None


def _rate_limit(value: str) -> str | None:
    from limits import parse_many  # flask-limiter's notation: "30 per minute", "5/second; 100/day"

    try:
        return None if parse_many(value) else "no limit given"
    except ValueError:
        return 'not a rate limit such as "30 per minute" or "5/second; 100/day"'


def _client_list(value: str) -> str | None:
    names = [part.strip() for part in value.split(",")]
    if value.strip() and (not all(names) or len(set(names)) != len(names)):
        return "must be client ids separated by commas, each listed once"
    return None


def _gateway_id(value: str) -> str | None:
    import re
    if value and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", value):
        return "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
    return None


HOURS_POLICIES = ("within_duration", "equal_duration")


def _hours_policy(value: str) -> str | None:
    return None if value in HOURS_POLICIES else f"must be one of {', '.join(HOURS_POLICIES)}"


def _recording_deadline(value: str) -> str | None:
    return None if value in ("report", "refuse") else "must be report or refuse"


def _volunteer_consent(value: str) -> str | None:
    return None if value in ("optional", "require") else "must be optional or require"


def _national_required(value: str) -> str | None:
    return None if value in ("enforce", "warn") else "must be enforce or warn"


def _storage_uri(value: str) -> str | None:
    return None if not value or "://" in value else \
        'must be a storage URI such as "vgw+sqlite:///path", "redis://host:6379" or empty'


def _networks(value: str) -> str | None:
    import ipaddress

    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        try:
            ipaddress.ip_network(part, strict=False)
        except ValueError:
            return f"{part!r} is not an address or network such as 127.0.0.1/32 or 10.0.0.0/8"
    return None


def _log_format(value: str) -> str | None:
    return None if value in ("text", "json") else 'must be "text" or "json"'


def _port(value: int) -> str | None:
    return None if 0 <= value <= 65535 else "must be a port number (0: off)"


SETTINGS: tuple[Setting, ...] = (
    Setting("DATABASE_URL", str, "",
            "SQLAlchemy URL of the central store; empty means a SQLite file in the instance folder.",
            _database_url),
    Setting("SQL_ECHO", bool, False, "Log every SQL statement (development only)."),
    Setting("LOG_LEVEL", str, "INFO", "Level of the gateway's own log.", _log_level),
    Setting("TIMEZONE", str, "Asia/Shanghai",
            "Zone for local times without an offset and for the day a service record falls on.",
            _timezone),
    Setting("MAX_BODY_BYTES", int, 10 * 1024 * 1024,
            "Largest request body accepted; larger requests are refused before they are read.",
            _positive),
    Setting("MAX_JSON_DEPTH", int, 32, "Deepest nesting of arrays and objects accepted in input.",
            _positive),
    Setting("MAX_BATCH_RECORDS", int, 5000, "Most records accepted in one JSON batch.", _positive),
    Setting("MIN_VOLUNTEER_AGE", int, 6,
            "Volunteers younger than this are refused outright (rule volunteer.min_age).", _age),
    Setting("ADULT_AGE", int, 18,
            "Volunteers younger than this must name a guardian who consented.", _age),
    Setting("PUBLIC_BASE_URL", str, "",
            "The gateway's public address, used in links it prints (certificate QR codes); "
            "empty: the address each request came to (scheme, host and port, through PROXY_FIX).",
            _public_base_url),
    Setting("KEYS_DIR", str, "",
            "Folder of the gateway's own key files (PII keys, signing keys); empty: instance/keys."),
    Setting("PII_ENCRYPTION_KEYS", str, "",
            "Comma-separated Fernet keys for personal data at rest, newest first; empty: a key "
            "file generated in KEYS_DIR on first start."),
    Setting("PII_INDEX_KEY", str, "",
            "Secret for the keyed blind index of ID and mobile numbers; empty: generated in KEYS_DIR."),
    Setting("CERTIFICATE_FONT", str, "",
            "TrueType (.ttf/.ttc) font with Chinese glyphs embedded in certificate PDFs; empty: "
            "the first of the known system fonts found. `vgw serve` names the font it uses and "
            "refuses to start without one.", _font_file),
    Setting("VERIFY_RATE_LIMIT", str, "30 per minute",
            "Rate limit per client address of the public certificate verification page.",
            _rate_limit),
    Setting("RATELIMIT_STORAGE_URI", str, "",
            "Where rate-limit counters live, shared by every worker: empty = a SQLite file on "
            "this host (vgw+sqlite://, beside the SQLite store or in the instance folder); "
            "redis://host:6379/N for several hosts; memory:// counts per process.", _storage_uri),
    Setting("PROXY_FIX", int, 0,
            "Reverse proxies in front of the gateway whose X-Forwarded-For/-Proto/-Host/-Port "
            "are trusted (werkzeug's ProxyFix): the client address the rate limits count and "
            "the URI signatures cover come from them. 0: none, the headers are ignored.",
            _non_negative),
    Setting("SIGNATURE_WINDOW_SECONDS", int, 300,
            "How long a signed request is accepted after its `created` time (docs/protocol.md).",
            _positive),
    Setting("SIGNATURE_CLOCK_SKEW_SECONDS", int, 30,
            "Tolerance for clients' clocks on `created` and `expires` of signed requests.",
            _non_negative),
    Setting("DEV_TOKENS", bool, False,
            "Accept development bearer tokens (`vgw clients token`). Never in production."),
    Setting("MAX_PUSH_BYTES", int, 256 * 1024 * 1024,
            "Largest batch accepted by POST /api/v1/exchange/batches (JSON or NDJSON; spooled to "
            "a temporary file, never held in memory).", _positive),
    Setting("SOURCE_PRIORITY", str, "",
            "Comma-separated client ids, highest priority first: a field a higher-priority source "
            "provided is not overwritten by a lower one; between equal priorities (and clients not "
            "listed) the newer source_updated_at wins.", _client_list),
    Setting("GATEWAY_ID", str, "",
            "This gateway's stable identity among federating gateways (e.g. `zj-3301`): the feed "
            "and pushes name each record's home gateway by it, so a record sent back or round a "
            "ring is applied to its home record (docs/protocol.md, Federation identity). Never "
            "change it once set; empty: records carry no home of this gateway.", _gateway_id),
    Setting("MESSAGE_LOG_RETENTION_DAYS", int, 90,
            "`vgw log purge` drops message-log bodies older than this; the evidence summary "
            "(digest, signature, key, counts) stays.", _positive),
    Setting("SOURCES_FILE", str, "",
            "TOML file declaring sync sources ([sources.NAME] tables, docs/operations.md); "
            "applied when the scheduler starts and by `vgw sources apply`. Empty: sources are "
            "managed with `vgw sources add` only."),
    Setting("SYNC_PAGE_SIZE", int, 500,
            "Records a sync run asks an adapter for per page (the adapter may cap it lower).",
            _positive),
    Setting("SYNC_PAGES_PER_TRANSACTION", int, 8,
            "Pages a sync pull commits together: their records, dead letters, ONE message-log "
            "entry, the run's counters and the cursor in one transaction (a crash keeps all of "
            "them or none). A transaction also commits early when the next page is not read "
            "within a second, so no transaction waits on the local system. The pull also reads "
            "up to this many pages and one ahead while it writes. 1: a transaction per page.",
            _positive),
    Setting("SYNC_RETRY_ATTEMPTS", int, 5,
            "Attempts of a failing adapter call in a sync run, the first included (exponential "
            "backoff with jitter between them); `vgw sync retries off` stops all retries.",
            _positive),
    Setting("SYNC_RETRY_BACKOFF_SECONDS", int, 2,
            "Base of the exponential backoff between retries of a sync run's adapter calls.",
            _non_negative),
    Setting("SYNC_RETRY_MAX_BACKOFF_SECONDS", int, 120,
            "Longest wait between two retries of a sync run's adapter call.", _non_negative),
    Setting("SYNC_RECORD_ATTEMPTS", int, 3,
            "Attempts of a record that fails for a reason that may pass (a concurrent change, "
            "the target's transient error) before it goes to the dead letters.", _positive),
    Setting("SYNC_PAUSE_AFTER_FAILURES", int, 5,
            "Failed runs in a row after which a source is paused and flagged for an operator.",
            _positive),
    Setting("SYNC_LEASE_SECONDS", int, 60,
            "SQLite only: how long a run's lease on its source lasts without a heartbeat (a "
            "killed run blocks its source this long). PostgreSQL uses advisory locks, released "
            "when the process dies.", _positive),
    Setting("SCHEDULER_RELOAD_SECONDS", int, 30,
            "How often `vgw scheduler` re-reads the sources (added, paused, resumed, "
            "rescheduled ones).", _positive),
    Setting("SCHEDULER_THREADS", int, 4,
            "Sources `vgw scheduler` runs at the same time (one thread each).", _positive),
    Setting("POPULATION_FILE", str, "",
            "CSV `code,population` of region populations; statistics answer volunteers as a "
            "share of population where a figure exists. Empty: no shares.", _population_file),
    # -- metrics and logs (gateway/metrics.py, gateway/logs.py; docs/operations.md) --
    Setting("METRICS_ALLOW", str, "127.0.0.1/32, ::1/128",
            "Comma-separated addresses or networks (CIDR) allowed to read /metrics (the client "
            "address after PROXY_FIX); anyone else gets 403. Empty: no one.", _networks),
    Setting("METRICS_MULTIPROC_DIR", str, "",
            "Folder of prometheus-client's multiprocess files for `vgw serve`'s gunicorn "
            "workers, wiped when it starts; empty: a new temporary folder per start."),
    Setting("SCHEDULER_METRICS_HOST", str, "127.0.0.1",
            "Address `vgw scheduler` serves its own /metrics on (SCHEDULER_METRICS_PORT)."),
    Setting("SCHEDULER_METRICS_PORT", int, 0,
            "Port of `vgw scheduler`'s own /metrics (same METRICS_ALLOW); 0: not served.", _port),
    Setting("LOG_FORMAT", str, "text",
            "text: the usual log lines; json: one JSON object per line with request id, client "
            "id and batch id where known (personal data scrubbed either way).", _log_format),
    # -- the administrators' console (gateway/console/) ---------------------------------------
    Setting("CONSOLE_ENABLED", bool, True, "Serve the administrators' console at /console."),
    Setting("CONSOLE_SECRET_KEY", str, "",
            "Secret that signs console session cookies and CSRF tokens (the same for every "
            "worker); empty: generated once in KEYS_DIR/console-secret."),
    Setting("CONSOLE_COOKIE_SECURE", bool, True,
            "Send the console's session cookie only over HTTPS (Secure). Turn off only for "
            "plain-HTTP use on 127.0.0.1 (the demo)."),
    Setting("CONSOLE_SESSION_MINUTES", int, 480,
            "A console login lasts this long (and ends when the password is reset).", _positive),
    Setting("CONSOLE_LOGIN_RATE_LIMIT", str, "10 per minute",
            "Login attempts accepted per client address (flask-limiter notation).", _rate_limit),
    Setting("CONSOLE_LOCKOUT_FAILURES", int, 5,
            "Wrong passwords in a row after which an account is locked.", _positive),
    Setting("CONSOLE_LOCKOUT_MINUTES", int, 15, "How long a locked account stays locked.",
            _positive),
    Setting("CONSOLE_LANGUAGE", str, "zh", "The console's default language: zh or en.",
            lambda v: None if v in ("zh", "en") else "must be zh or en"),
    Setting("ALERTS_EVALUATE_SECONDS", int, 60,
            "How often `vgw scheduler` evaluates the alert rules and delivers what fires.",
            _positive),
    Setting("ALERT_WEBHOOK_TIMEOUT_SECONDS", int, 10,
            "Timeout of one alert webhook delivery (signed with the gateway's key).", _positive),
    Setting("ALERT_SMTP_HOST", str, "",
            "SMTP server for alert e-mails; empty: alerts are not e-mailed."),
    Setting("ALERT_SMTP_PORT", int, 587, "Port of ALERT_SMTP_HOST.", _positive),
    Setting("ALERT_SMTP_STARTTLS", bool, True, "Use STARTTLS with ALERT_SMTP_HOST."),
    Setting("ALERT_SMTP_USER", str, "", "SMTP user name (empty: no login)."),
    Setting("ALERT_SMTP_PASSWORD", str, "", "SMTP password (prefer GATEWAY_ALERT_SMTP_PASSWORD)."),
    Setting("ALERT_SMTP_FROM", str, "vgw-alerts@localhost", "Sender address of alert e-mails."),
    Setting("ALERT_SMTP_CA_FILE", str, "",
            "PEM file of the CA(s) that sign the SMTP server's certificate, for STARTTLS "
            "(empty: the system's CAs). The certificate and host name are always verified.",
            lambda v: None if not v or Path(v).is_file() else "no such file"),
    # -- hardening: input limits, idempotency leases, shared rate limits (issue 11) --
    Setting("MAX_VALUE_BYTES", int, 64 * 1024,
            "Longest single value (a string, or any run of a JSON body between two quotes) "
            "accepted in a push; longer: 400 value-too-long before anything is parsed.", _positive),
    Setting("MAX_LINE_BYTES", int, 1024 * 1024,
            "Longest line of an NDJSON push; longer: 400 line-too-long before anything is parsed.",
            _positive),
    Setting("MAX_OBJECT_KEYS", int, 1000,
            "Most members of one JSON object in a push (envelope, record or nested object).",
            _positive),
    Setting("IDEMPOTENCY_LEASE_SECONDS", int, 30,
            "A push's reservation of its Idempotency-Key lapses after this long without a "
            "heartbeat (the worker touches it every committed chunk, about every second), so a "
            "retry after a killed worker takes the batch over.", _positive),
    # -- policies on service time (docs/rules.md, "Where each rule comes from") ----------
    # Neither the 2017 条例 nor the 2020 办法 ties hours to the clock: Art. 7 of the 办法 makes
    # service time "志愿者实际付出的时间" that the organisation "科学合理确定". The national
    # front-end's own behaviour (hours = end − start, no record across midnight) is kept as
    # optional policies, off by default.
    Setting("SERVICE_HOURS_POLICY", str, "within_duration",
            "How a service record's hours relate to its start and end: within_duration (hours at "
            "most ended_at − started_at; rule service_record.hours_within_duration) or "
            "equal_duration (hours = ended_at − started_at, the national front-end's behaviour; "
            "rule service_record.hours_match).", _hours_policy),
    Setting("SERVICE_RECORD_SAME_DAY", bool, False,
            "Refuse a service record that spans midnight (rule service_record.same_day, the "
            "national front-end's behaviour). Off: a record may span days."),
    # -- the 2020 办法, article by article (docs/rules.md) ---------------------------------
    Setting("RECORDING_DEADLINE", str, "report",
            "办法 (2020) Art. 11: service is recorded within RECORDING_DEADLINE_DAYS working "
            "days (China's official calendar, 调休 included) after the activity ends. report: a "
            "later record is kept and marked (late_working_days on the record and its API view, "
            "a note on the push's answer, late_records in the statistics overview); refuse: it is refused (rule "
            "service_record.recorded_late) — except past the years the calendar package knows, "
            "where the count is an estimate and only reported. Measured for a team's entry "
            "(REST, push, sync pull, upload), an approved application (to the day of approval) "
            "and a correction (to the day the service was first recorded; refused only when it "
            "makes the record later): docs/rules.md, Art. 11.", _recording_deadline),
    Setting("RECORDING_DEADLINE_DAYS", int, 10,
            "Working days after the activity ends within which a service record is made "
            "(办法 2020 Art. 11: 10).", _positive),
    Setting("VOLUNTEER_CONSENT", str, "optional",
            "办法 (2020) Art. 6: an organisation enters a volunteer's information with the "
            "volunteer's consent. optional: a volunteer record may carry consent (when, what it "
            "covers: codes/consent_scope), kept with the record and its history; require: a "
            "volunteer record without it is refused (rule volunteer.consent_required).",
            _volunteer_consent),
    Setting("DISPUTE_ANSWER_DAYS", int, 10,
            "办法 (2020) Art. 13 asks the organisation to verify a volunteer's objection to a "
            "record promptly (及时核实) without a number of days: the product's policy is an "
            "answer due within this many working days (China's official calendar) after the "
            "objection is raised; past it, an open dispute reads as overdue.", _positive),
    # -- schema version 2: the national required flags (docs/data-elements.md) ------------
    Setting("NATIONAL_REQUIRED", str, "enforce",
            "Schema v2 requires what the national forms require (x-national-required). enforce: "
            "a missing one is an error; warn: for local systems that cannot yet comply, the "
            "record is accepted and each missing field is reported as a warning (rule "
            "national.required). Schema v1 is not affected.", _national_required),
)

SETTINGS_BY_NAME = {s.name: s for s in SETTINGS}


def _coerce(setting: Setting, value: Any, origin: str) -> Any:
    """Turn a raw value from a layer into the setting's type or raise SettingsError."""
    kind = setting.type
    if isinstance(value, str) and kind is not str:
        text = value.strip().lower()
        if kind is bool:
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off"}:
                return False
        elif kind is int:
            try:
                return int(text)
            except ValueError:
                pass
        raise SettingsError(f"{setting.name} (from {origin}): {value!r} is not a {kind.__name__}")
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        raise SettingsError(
            f"{setting.name} (from {origin}): expected {kind.__name__}, got {type(value).__name__}"
        )
    return value


def _apply(merged: dict[str, Any], layer: Mapping[str, Any], origin: str) -> None:
    for raw_name, value in layer.items():
        name = raw_name.upper()
        setting = SETTINGS_BY_NAME.get(name)
        if setting is None:
            raise SettingsError(f"{raw_name} (from {origin}): unknown setting")
        merged[name] = _coerce(setting, value, origin)
        merged.setdefault("_ORIGIN", {})[name] = origin


def read_config_file(path: Path) -> dict[str, Any]:
    """Read a TOML settings file; keys may sit at the top level or under ``[gateway]``."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise SettingsError(f"config file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"config file {path}: {exc}") from exc
    section = data.pop("gateway", {})
    if not isinstance(section, dict):
        raise SettingsError(f"config file {path}: [gateway] must be a table")
    return {**data, **section}


def default_config_path(environ: Mapping[str, str]) -> Path | None:
    """The TOML file to read: ``GATEWAY_CONFIG_FILE`` if set, else ./config/gateway.toml if present."""
    if environ.get(CONFIG_FILE_ENV):
        return Path(environ[CONFIG_FILE_ENV])
    candidate = Path.cwd() / "config" / "gateway.toml"
    return candidate if candidate.is_file() else None


def instance_path() -> str:
    """The app's instance folder, found as Flask finds it for ``gateway.app`` (next to the
    package in a source checkout, ``<prefix>/var/gateway.app-instance`` when installed), for
    commands that read the settings without building the app (`vgw validate`)."""
    from flask.sansio.scaffold import find_package

    prefix, package_path = find_package("gateway.app")
    if prefix is None:
        return os.path.join(package_path, "instance")
    return os.path.join(prefix, "var", "gateway.app-instance")


def load_settings(
    instance_path: str,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
    origins: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Merge every layer, check every value, and fill derived defaults.

    ``origins``, when given, is filled with where each setting not left at its default came
    from ("config file PATH", "environment GATEWAY_*", "overrides").
    """
    environ = os.environ if environ is None else environ
    merged: dict[str, Any] = {s.name: s.default for s in SETTINGS}
    path = config_file if config_file is not None else default_config_path(environ)
    if path is not None:
        _apply(merged, read_config_file(path), f"config file {path}")
    env_layer = {
        key[len(ENV_PREFIX):]: value
        for key, value in environ.items()
        if key.startswith(ENV_PREFIX) and key != CONFIG_FILE_ENV
    }
    _apply(merged, env_layer, "environment GATEWAY_*")
    if overrides:
        _apply(merged, overrides, "overrides")
    found_origins = merged.pop("_ORIGIN", {})
    if origins is not None:
        origins.update(found_origins)
    for setting in SETTINGS:
        problem = setting.check(merged[setting.name]) if setting.check else None
        if problem:
            raise SettingsError(f"{setting.name}: {problem}")
    if merged["MIN_VOLUNTEER_AGE"] > merged["ADULT_AGE"]:
        raise SettingsError("MIN_VOLUNTEER_AGE: must not exceed ADULT_AGE")
    if not merged["KEYS_DIR"]:
        merged["KEYS_DIR"] = str(Path(instance_path) / "keys")
    if not merged["DATABASE_URL"]:
        merged["DATABASE_URL"] = f"sqlite:///{Path(instance_path) / 'gateway.sqlite3'}"
    # An empty RATELIMIT_STORAGE_URI stays empty here: its default (a file beside the store)
    # is gateway.ratelimit_storage.storage_uri, asked by the limiters and `vgw serve`.
    return merged
