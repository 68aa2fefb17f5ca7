"""``vgw pii``: keys of the personal data encrypted at rest (ID and mobile numbers)."""

import click
from cryptography.fernet import Fernet


@click.group(help="Personal-data keys (ID and mobile numbers encrypted at rest).")
def pii() -> None:
    pass


@pii.command("generate-key")
def generate_key() -> None:
    """Print a new Fernet key for PII_ENCRYPTION_KEYS.

    Rotation without downtime: put the new key in front of the existing ones (comma-separated,
    newest first), restart, re-encrypt the stored data, then drop the old keys. The key goes
    to standard output alone; the advice to standard error.
    """
    click.echo(Fernet.generate_key().decode("ascii"))
    click.echo("Add this key in front of PII_ENCRYPTION_KEYS (newest first), keep the old keys "
               "until the data is re-encrypted, and keep it secret.", err=True)
