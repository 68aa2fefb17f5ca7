"""``vgw push`` and ``vgw pull``: the exchange protocol's client, from the command line.

These commands talk to a *remote* gateway as one of its clients (signed requests, see
docs/protocol.md). They need no local store, settings or keys directory: the root ``vgw``
group lists them in its table (gateway/cli/__init__.py, ``APPLESS``), so running them never
builds the app.

Exit status of ``vgw push``: 0 every record accepted, 1 some record rejected, 2 the batch
could not be delivered (transport, signature, authentication, input). ``vgw pull``: 0 done,
2 failed (the cursor reached so far is still printed).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Iterator, NoReturn

import click

EXIT_OK, EXIT_REJECTED, EXIT_FAILED = 0, 1, 2
NDJSON_SUFFIXES = {".ndjson", ".jsonl", ".ldjson"}

_client_id = click.option("--client-id", required=True, envvar="VGW_CLIENT_ID", show_envvar=True,
                          help="The client id the gateway registered for this system.")
_key_id = click.option("--key-id", required=True, envvar="VGW_KEY_ID", show_envvar=True,
                       help="The key id the public key is registered under.")
_key = click.option("--key", "key_file", required=True, envvar="VGW_KEY_FILE", show_envvar=True,
                    type=click.Path(dir_okay=False, path_type=Path),
                    help="This system's private key (PEM, Ed25519 or ECDSA P-256).")
_jwks = click.option("--jwks", "jwks_file", type=click.Path(dir_okay=False, path_type=Path),
                     help="Verify the gateway's answers with this JWK set (a JSON file obtained "
                          "out of band) instead of fetching /.well-known/jwks.json from it.")
_no_verify = click.option("--no-verify", is_flag=True,
                          help="Do not verify the gateway's response signatures (not advised).")
_timeout = click.option("--timeout", type=click.FloatRange(min=1), default=30, show_default=True,
                        help="Seconds to wait for a connection and for each read.")


def _fail(message: str) -> NoReturn:
    click.echo(f"vgw: {message}", err=True)
    sys.exit(EXIT_FAILED)


def _client(url: str, client_id: str, key_id: str, key_file: Path, jwks_file: Path | None,
            no_verify: bool, timeout: float):
    import orjson

    from gateway.exchange.client import GatewayClient

    try:
        key = key_file.read_bytes()
    except OSError as exc:
        _fail(f"cannot read {key_file}: {exc.strerror}")
    jwks: Any = "fetch"
    if no_verify:
        jwks = None
    elif jwks_file is not None:
        try:
            jwks = orjson.loads(jwks_file.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            _fail(f"cannot read the JWK set {jwks_file}: {exc}")
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
            _fail(f"{jwks_file} is not a JWK set ({{\"keys\": [...]}})")
    try:
        return GatewayClient(url, client_id, key_id, key, gateway_jwks=jwks, timeout=timeout)
    except (ValueError, TypeError) as exc:
        _fail(f"cannot use the key {key_file}: {exc}")


def _records_of_json(path: Path) -> Any:
    """A JSON file: an envelope (kept as such), an array of records/items, or one record."""
    import orjson

    try:
        value = orjson.loads(path.read_bytes())
    except OSError as exc:
        _fail(f"cannot read {path}: {exc.strerror}")
    except orjson.JSONDecodeError as exc:
        _fail(f"{path} is not JSON: {exc} (NDJSON files end in .ndjson or .jsonl)")
    if isinstance(value, dict) and "records" in value:
        return value
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return value
    _fail(f"{path} holds no JSON object or array")


def _records_of_ndjson(path: Path) -> Iterator[Any]:
    """An NDJSON file line by line (a header line, without ``data``, is skipped)."""
    import orjson

    from gateway.exchange.client import InputError

    with path.open("rb") as fh:
        first = True
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                value = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise InputError(f"line {number}: not JSON: {exc}") from None
            if first and isinstance(value, dict) and "data" not in value and (
                    "batch_id" in value or "schema_version" in value):
                first = False
                continue
            first = False
            yield value


def _describe(result: dict[str, Any]) -> str:
    where = f"record {result.get('index')}"
    if result.get("line") is not None:
        where += f" (line {result['line']})"
    who = " ".join(str(result[k]) for k in ("entity", "source_id", "key") if result.get(k))
    return f"{where} {who}".rstrip()


def _print_result(result: Any, out: Any = None) -> None:
    summary = result.summary
    batches = len(result.batches)
    click.echo(f"pushed {summary['total']} record(s) in {batches} batch(es): "
               f"{summary['created']} created, {summary['updated']} updated, "
               f"{summary['unchanged']} unchanged, {summary['deleted']} deleted, "
               f"{summary['rejected']} rejected", file=out)
    for rejected in result.rejected:
        click.echo(f"rejected: {_describe(rejected)}", file=out)
        _print_errors(rejected.get("errors"), out)


def _print_errors(errors: Any, out: Any) -> None:
    """Each error's pointer, rule id and message: for a rejected record or a refused batch."""
    for error in errors if isinstance(errors, list) else []:
        if not isinstance(error, dict):
            continue
        pointer = error.get("pointer") or "/"
        click.echo(f"  {pointer} [{error.get('rule', '?')}] {error.get('message_en', '')} "
                   f"/ {error.get('message_zh', '')}", file=out)


def _fail_push(url: str, exc: Exception) -> NoReturn:
    """A batch refused as a whole (422 invalid-envelope, 400 duplicate-key, …) names its
    fields in the problem's ``errors``: print them too, or the sender is left with "breaks
    1 rule(s)" and no idea which."""
    from gateway.exchange.client import GatewayProblem

    click.echo(f"vgw: push to {url} failed: {exc}", err=True)
    problem = getattr(exc, "cause", exc)
    if isinstance(problem, GatewayProblem):
        _print_errors(problem.problem.get("errors"), sys.stderr)
    sys.exit(EXIT_FAILED)


@click.command("push")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--to", "url", required=True, metavar="URL",
              help="The gateway's base URL, e.g. https://gateway.example")
@_client_id
@_key_id
@_key
@click.option("--entity", default=None,
              help="The entity of bare records in FILE (volunteer, team, …); not needed when "
                   "FILE holds a batch envelope or {entity, op, data} items.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Records per batch (default 500; with --ndjson: no limit but --chunk-mb).")
@click.option("--ndjson", "as_ndjson", is_flag=True,
              help="Send FILE (NDJSON) as NDJSON batches, streamed from disk: for big files.")
@click.option("--chunk-mb", type=click.FloatRange(min=0.001), default=8, show_default=True,
              help="With --ndjson: the most MiB per batch.")
@click.option("--idempotency-key", default=None,
              help="Use this Idempotency-Key (KEY.1, KEY.2 … for several batches) instead of "
                   "keys derived from the content; a new key makes the gateway process "
                   "identical content again.")
@_jwks
@_no_verify
@_timeout
def push(file: Path, url: str, client_id: str, key_id: str, key_file: Path, entity: str | None,
         batch_size: int | None, as_ndjson: bool, chunk_mb: float, idempotency_key: str | None,
         jwks_file: Path | None, no_verify: bool, timeout: float) -> None:
    """Push the records in FILE (JSON or NDJSON) to the gateway at URL, signed.

    FILE is a batch envelope, a JSON array of records or of {entity, op, data} items, one
    record, or NDJSON (.ndjson/.jsonl) with one record or item per line. Prints a summary
    and every rejected record with its errors. Each batch's Idempotency-Key is derived
    from its content, so running the same push again (say, after a failure) never stores
    anything twice. Exit status: 0 all accepted, 1 some rejected, 2 not delivered.
    """
    from gateway.exchange.client import DEFAULT_BATCH_SIZE, GatewayClientError, PushError

    ndjson_file = file.suffix.lower() in NDJSON_SUFFIXES
    if as_ndjson and not ndjson_file:
        _fail(f"--ndjson sends an NDJSON file; {file} does not end in .ndjson or .jsonl")
    client = _client(url, client_id, key_id, key_file, jwks_file, no_verify, timeout)
    try:
        if as_ndjson:
            result = client.push_ndjson(file, entity=entity, chunk_bytes=int(chunk_mb * 1024 * 1024),
                                        batch_size=batch_size, idempotency_key=idempotency_key,
                                        keep="rejected")
        else:
            records = _records_of_ndjson(file) if ndjson_file else _records_of_json(file)
            result = client.push(records, entity=entity, batch_size=batch_size or DEFAULT_BATCH_SIZE,
                                 idempotency_key=idempotency_key)
    except PushError as exc:
        if exc.partial.batches:
            click.echo("before the failure:", err=True)
            _print_result(exc.partial, out=sys.stderr)
        _fail_push(url, exc)
    except GatewayClientError as exc:
        _fail_push(url, exc)
    _print_result(result)
    sys.exit(EXIT_OK if result.all_accepted else EXIT_REJECTED)


def _read_cursor(path: Path) -> str | None:
    try:
        text = path.read_text("utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        _fail(f"cannot read {path}: {exc.strerror}")
    return text or None


def _temporary_beside(path: Path):
    """A new 0600 temporary file in ``path``'s folder (so that renaming it over ``path`` is atomic)."""
    import tempfile

    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    return os.fdopen(fd, "wb"), Path(name)


def _commit(temporary: Path, out, path: Path) -> None:
    """Make ``temporary`` (open as ``out``) durable and rename it over ``path``: after this
    returns, ``path`` holds the new content whatever happens to the machine."""
    out.flush()
    os.fsync(out.fileno())
    out.close()
    os.replace(temporary, path)
    dir_fd = os.open(path.parent or ".", os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself
    finally:
        os.close(dir_fd)


def _write_cursor(path: Path, cursor: str | None) -> None:
    if cursor is None:
        return
    out, temporary = _temporary_beside(path)
    out.write((cursor + "\n").encode("utf-8"))
    _commit(temporary, out, path)


@click.command("pull")
@click.option("--from", "url", required=True, metavar="URL",
              help="The gateway's base URL, e.g. https://gateway.example")
@_client_id
@_key_id
@_key
@click.option("--since", default=None, metavar="CURSOR",
              help="Only changes after this cursor (the one the previous pull printed).")
@click.option("--entity", default=None, help="Only changes of this entity.")
@click.option("--limit", type=click.IntRange(1, 1000), default=500, show_default=True,
              help="Changes per page.")
@click.option("--schema-version", type=click.Choice(["1", "2"]), default="1", show_default=True,
              help="The schema version of the records (2: every national field code kept).")
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the changes to this NDJSON file (0600) instead of standard output: "
                   "replaced atomically, only when the pull succeeds with changes; a run with "
                   "none leaves it as it was.")
@click.option("--cursor-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Read --since from this file when it exists, and write the final cursor to "
                   "it after a successful pull, once --out is safely on disk (for cron jobs).")
@_jwks
@_no_verify
@_timeout
def pull(url: str, client_id: str, key_id: str, key_file: Path, since: str | None,
         entity: str | None, limit: int, schema_version: str, out_file: Path | None,
         cursor_file: Path | None, jwks_file: Path | None, no_verify: bool, timeout: float) -> None:
    """Pull the changes this client may see from the gateway at URL, all pages, as NDJSON.

    Every answer's gateway signature is verified (JWK set fetched from the gateway, or
    --jwks). Prints "cursor: CURSOR" to standard error at the end — also after a failure,
    then the cursor of the last change written — pass it as --since next time.
    """
    import orjson

    from gateway.exchange.client import GatewayClientError

    if since is None and cursor_file is not None:
        since = _read_cursor(cursor_file)
    client = _client(url, client_id, key_id, key_file, jwks_file, no_verify, timeout)
    # --out: the changes go to a temporary file beside it, which replaces it only when the
    # pull succeeded and brought changes, once it is on disk (fsync); only then does the
    # cursor file move. A run with no changes, or a failed one, leaves both as they were, so
    # a consumer never loses a batch it has not read (docs/protocol.md, "vgw pull").
    temporary: Path | None = None
    if out_file is not None:
        try:
            out, temporary = _temporary_beside(out_file)
        except OSError as exc:
            _fail(f"cannot write {out_file}: {exc.strerror}")
    else:
        out = sys.stdout.buffer
    count = 0
    failure: str | None = None
    try:
        for change in client.pull(since=since, entity=entity, limit=limit,
                                  schema_version=schema_version):
            out.write(orjson.dumps(change) + b"\n")
            count += 1
    except GatewayClientError as exc:
        failure = str(exc)
    finally:
        if temporary is not None and (failure is not None or count == 0):
            out.close()
            temporary.unlink(missing_ok=True)
            temporary = None
        elif temporary is None:
            out.flush()
    cursor = client.last_cursor
    if temporary is not None:
        assert out_file is not None  # a temporary file is made only for --out
        try:
            _commit(temporary, out, out_file)
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            _fail(f"cannot write {out_file}: {exc.strerror}; the cursor did not move")
    where = ""
    if out_file is not None:
        where = f" into {out_file}" if count and failure is None else f" ({out_file} left as it was)"
    click.echo(f"pulled {count} change(s)" + where, err=True)
    click.echo(f"cursor: {cursor if cursor is not None else ''}", err=True)
    if failure is not None:
        _fail(f"pull from {url} failed: {failure}")
    if cursor_file is not None:
        _write_cursor(cursor_file, cursor)
