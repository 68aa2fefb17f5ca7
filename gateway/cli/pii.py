"""``vgw pii``: keys of the personal data encrypted at rest (ID and mobile numbers).

Rotating the encryption key without downtime:

1. ``vgw pii generate-key``; put the new key in front of PII_ENCRYPTION_KEYS (newest
   first) and restart the gateway: new data is encrypted under the new key, and every
   reader still decrypts the old data with the old key.
2. ``vgw pii rotate``: re-encrypts every stored value under the newest key, batch by batch
   (one transaction per batch), while the gateway keeps serving.
3. Drop the old key from PII_ENCRYPTION_KEYS and restart.

Changing the blind-index key (PII_INDEX_KEY): restart with the new key, then
``vgw pii reindex``. Until it finishes, look-ups and duplicate detection do not find the
volunteers not yet re-indexed, so pause registrations (or the exchange) while it runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import click
from cryptography.fernet import Fernet
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import Column, Engine, Table, select, update

from gateway.privacy import PiiKeyError, Vault

DEFAULT_BATCH = 500


@click.group(help="Personal-data keys (ID and mobile numbers encrypted at rest).")
def pii() -> None:
    pass


@pii.command("generate-key")
def generate_key() -> None:
    """Print a new Fernet key for PII_ENCRYPTION_KEYS.

    Rotation without downtime: put the new key in front of the existing ones (comma-separated,
    newest first), restart, re-encrypt the stored data with `vgw pii rotate`, then drop the
    old keys. The key goes to standard output alone; the advice to standard error.
    """
    click.echo(Fernet.generate_key().decode("ascii"))
    click.echo("Add this key in front of PII_ENCRYPTION_KEYS (newest first), keep the old keys "
               "until `vgw pii rotate` has re-encrypted the data, and keep it secret.", err=True)


# -- re-encryption --------------------------------------------------------------------------------

@dataclass
class Tally:
    """What a pass over one table did. Row ids only: never a value."""

    table: str
    rows: int = 0        # rows rewritten
    values: int = 0      # encrypted values (or indexes) rewritten
    current: int = 0     # rows that needed nothing
    skipped: int = 0     # rows changed by someone else meanwhile (they are current already)
    failed: list[int] = field(default_factory=list)  # row ids that could not be processed

    def line(self, verb: str) -> str:
        text = (f"{self.table}: {self.rows} row(s) {verb} ({self.values} value(s)), "
                f"{self.current} already current, {self.skipped} changed meanwhile")
        if self.failed:
            text += f", {len(self.failed)} FAILED (ids {', '.join(map(str, self.failed[:20]))}"
            text += ", …)" if len(self.failed) > 20 else ")"
        return text


def encrypted_columns() -> list[tuple[Table, list[Column]]]:
    """Every store table with encrypted columns (named ``*_enc``) and an ``id`` key."""
    from gateway.store.base import Base

    found = []
    for table in Base.metadata.sorted_tables:
        columns = [c for c in table.columns if c.name.endswith("_enc")]
        if columns and "id" in table.c:
            found.append((table, columns))
    return found


def _unchanged(table: Table, row, columns: list[Column]) -> list:
    """WHERE conditions: the row still holds what we read (compare-and-set)."""
    conditions = [table.c.id == row.id]
    for column in columns:
        value = row._mapping[column]
        conditions.append(column.is_(None) if value is None else column == value)
    return conditions


def _keep_timestamp(table: Table) -> dict:
    # Re-encryption is no change of the record: keep updated_at (the change feed reads it).
    return {"updated_at": table.c.updated_at} if "updated_at" in table.c else {}


def _batches(engine: Engine, table: Table, columns: list, batch_size: int):
    """Rows of ``table`` in id order, one transaction per batch: yields (connection, rows)."""
    last = 0
    while True:
        with engine.begin() as conn:
            rows = conn.execute(select(table.c.id, *columns).where(table.c.id > last)
                                .order_by(table.c.id).limit(batch_size)).all()
            if not rows:
                return
            yield conn, rows
            last = rows[-1].id


def rotate_table(engine: Engine, vault: Vault, table: Table, columns: list[Column],
                 batch_size: int = DEFAULT_BATCH) -> Tally:
    """Re-encrypt every value of ``columns`` under the vault's newest key.

    Each row is rewritten only if it still holds what was read, so a concurrent writer (who
    already encrypts under the newest key) is never overwritten.
    """
    tally = Tally(table.name)
    for conn, rows in _batches(engine, table, columns, batch_size):
        for row in rows:
            new = {}
            try:
                for column in columns:
                    token = row._mapping[column]
                    if token:
                        rotated = vault.rotate(token)
                        if rotated != token:  # a token already current is left alone
                            new[column.name] = rotated
            except PiiKeyError:
                tally.failed.append(row.id)
                continue
            if not new:
                tally.current += 1
                continue
            result = conn.execute(update(table).where(*_unchanged(table, row, columns))
                                  .values(**new, **_keep_timestamp(table)))
            if result.rowcount == 1:
                tally.rows += 1
                tally.values += len(new)
            else:
                tally.skipped += 1
    return tally


def rotate_blobs(engine: Engine, vault: Vault, batch_size: int = DEFAULT_BATCH) -> Tally:
    """Re-encrypt every ``blob_chunks`` row (message-log bodies, stored push answers) under
    the newest key; rows from before encryption (plain zlib) are encrypted. Compare-and-set
    per row, one transaction per batch, in (blob_key, seq) order."""
    from sqlalchemy import tuple_

    from gateway.exchange.message_log import chunk_aad, open_chunk
    from gateway.store.models import BlobChunk

    table = BlobChunk.__table__
    tally = Tally(table.name)
    last: tuple[str, int] = ("", -1)
    while True:
        with engine.begin() as conn:
            rows = conn.execute(select(table.c.blob_key, table.c.seq, table.c.data)
                                .where(tuple_(table.c.blob_key, table.c.seq) > tuple_(*last))
                                .order_by(table.c.blob_key, table.c.seq).limit(batch_size)).all()
            if not rows:
                return tally
            for row in rows:
                if vault.sealed_under_newest(row.data):
                    tally.current += 1
                    continue
                try:
                    plain = open_chunk(vault, row.blob_key, row.seq, row.data)
                except PiiKeyError:
                    tally.failed.append(row.seq)
                    continue
                result = conn.execute(update(table).where(
                    table.c.blob_key == row.blob_key, table.c.seq == row.seq,
                    table.c.data == row.data).values(
                    data=vault.seal(plain, chunk_aad(row.blob_key, row.seq))))
                if result.rowcount == 1:
                    tally.rows += 1
                    tally.values += 1
                else:
                    tally.skipped += 1
            last = (rows[-1].blob_key, rows[-1].seq)


def reseal_uploads(engine: Engine, vault: Vault) -> Tally:
    """Seal again under the newest key the copies sync sources' adapters keep sealed
    themselves (uploaded spreadsheets in a source's folder: ``Adapter.reseal``). A "row" is
    a source; a failed one is listed by its id."""
    import json

    from gateway.adapter import AdapterError, load_adapter
    from gateway.store.models import SyncSource

    tally = Tally("uploads kept by sync sources")
    with engine.connect() as conn:
        sources = conn.execute(select(SyncSource.id, SyncSource.adapter,
                                      SyncSource.settings_enc)).all()
    for source_id, adapter_name, settings_enc in sources:
        try:
            settings = json.loads(vault.decrypt(settings_enc))
            with load_adapter(adapter_name, settings, sealer=vault) as adapter:
                count = adapter.reseal()
        except (AdapterError, PiiKeyError, OSError, ValueError):
            tally.failed.append(source_id)
            continue
        tally.rows += bool(count)
        tally.values += count
        tally.current += not count
    return tally


def reindex_volunteers(engine: Engine, vault: Vault, batch_size: int = DEFAULT_BATCH) -> Tally:
    """Recompute the blind indexes (ID, mobile) of every volunteer from the decrypted values."""
    from gateway.store.models import Volunteer

    table = Volunteer.__table__
    read = [table.c.id_type, table.c.id_number_enc, table.c.mobile_enc, table.c.id_index,
            table.c.mobile_index]
    tally = Tally(table.name)
    for conn, rows in _batches(engine, table, read, batch_size):
        for row in rows:
            try:
                id_index = vault.blind_index(f"id:{row.id_type}", vault.decrypt(row.id_number_enc))
                mobile_index = vault.blind_index("mobile", vault.decrypt(row.mobile_enc))
            except PiiKeyError:
                tally.failed.append(row.id)
                continue
            if (id_index, mobile_index) == (row.id_index, row.mobile_index):
                tally.current += 1
                continue
            clash = conn.execute(select(table.c.id).where(table.c.id_index == id_index,
                                                          table.c.id != row.id)).first()
            if clash is not None:
                # Two rows of one person (registered while the indexes disagreed): an
                # operator must merge them; the unique index would refuse the second.
                tally.failed.append(row.id)
                continue
            result = conn.execute(
                update(table).where(*_unchanged(table, row, read))
                .values(id_index=id_index, mobile_index=mobile_index, **_keep_timestamp(table)))
            if result.rowcount == 1:
                tally.rows += 1
                tally.values += int(id_index != row.id_index) + int(mobile_index != row.mobile_index)
            else:
                tally.skipped += 1
    return tally


def _batch_option(func):
    return click.option("--batch-size", default=DEFAULT_BATCH, show_default=True,
                        type=click.IntRange(1, 100_000),
                        help="Rows per transaction.")(func)


@pii.command("rotate")
@_batch_option
@with_appcontext
def rotate(batch_size: int) -> None:
    """Re-encrypt all stored personal data under the newest key of PII_ENCRYPTION_KEYS.

    Safe while the gateway serves (compare-and-set per row, one transaction per batch). Run
    it after restarting with the new key in front; drop the old key only when it reports no
    failures.
    """
    from gateway.privacy import vault

    engine = current_app.extensions["store.engine"]
    failed = 0
    for table, columns in encrypted_columns():
        tally = rotate_table(engine, vault(), table, columns, batch_size)
        click.echo(tally.line("re-encrypted"))
        failed += len(tally.failed)
    tally = rotate_blobs(engine, vault(), batch_size)
    click.echo(tally.line("re-encrypted"))
    failed += len(tally.failed)
    tally = reseal_uploads(engine, vault())
    click.echo(tally.line("sealed again"))
    failed += len(tally.failed)
    if failed:
        raise click.ClickException(
            f"{failed} row(s) could not be decrypted with any configured key; keep the old keys "
            "and investigate those rows")
    click.echo("done: every encrypted value is under the newest key; the older keys may be "
               "dropped from PII_ENCRYPTION_KEYS")


@pii.command("reindex")
@_batch_option
@with_appcontext
def reindex(batch_size: int) -> None:
    """Recompute the blind indexes (ID and mobile numbers) under the current PII_INDEX_KEY.

    Run it after changing PII_INDEX_KEY; until it finishes, look-ups and duplicate detection
    miss the rows not yet re-indexed.
    """
    from gateway.privacy import vault

    tally = reindex_volunteers(current_app.extensions["store.engine"], vault(), batch_size)
    click.echo(tally.line("re-indexed"))
    if tally.failed:
        raise click.ClickException(
            f"{len(tally.failed)} volunteer row(s) could not be re-indexed (undecryptable, or the "
            "same document as another row: merge those volunteers)")
    click.echo("done: duplicate detection and look-ups use the current index key")
