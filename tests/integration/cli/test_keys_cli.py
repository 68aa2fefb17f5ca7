"""`vgw keys revoke` as docs/protocol.md writes it works for every key id, including the
RFC 7638 thumbprints (base64url) that begin with '-' (issue 12, item 7)."""

from __future__ import annotations

import re
from pathlib import Path

from gateway.exchange import keys as client_keys

PROTOCOL = (Path(__file__).resolve().parents[3] / "docs" / "protocol.md").read_text("utf-8")


def test_a_key_id_beginning_with_a_dash_is_revoked_as_documented(store_app, tmp_path):
    documented = re.search(r"^vgw keys revoke (.*?)KEY_ID", PROTOCOL, re.M)
    assert documented, "docs/protocol.md shows how to revoke a key"
    runner = store_app.test_cli_runner()
    assert runner.invoke(args=["clients", "add", "dash-client", "--name", "dash"]).exit_code == 0
    pem = tmp_path / "k.public.pem"
    pem.write_bytes(client_keys.generate_key_pair("ed25519").public_pem)
    added = runner.invoke(args=["keys", "add", "dash-client", str(pem), "--key-id=-dash-key"])
    assert added.exit_code == 0, added.output
    # the documented form, word for word, with the id put in
    words = (documented.group(1) + "-dash-key").split()
    revoked = runner.invoke(args=["keys", "revoke", *words])
    assert revoked.exit_code == 0, revoked.output
    listed = runner.invoke(args=["keys", "list", "dash-client"]).output
    assert "-dash-key" in listed and "revoked" in listed
