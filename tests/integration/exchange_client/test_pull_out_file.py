"""`vgw pull --out FILE --cursor-file C` as a cron consumer runs it: the cursor only moves once
what it covers is safely in FILE, and a run with no changes (or a failed one) leaves FILE and
the cursor as they were, so no unread batch is lost."""

from __future__ import annotations

from tests.integration.exchange_client.support import other_jwks, volunteers, wait_for_feed
from tests.integration.exchange_client.test_push_pull_cli import (  # noqa: F401 - fixture
    cursor_of, vgw, write_json)


def _cron_pull(vgw, server, out, cursor_file, *extra):  # noqa: F811
    return vgw("pull", "--from", server.url, "--out", str(out), "--cursor-file", str(cursor_file),
               *extra)


def test_a_run_with_no_changes_leaves_the_unread_file_and_the_cursor(vgw, server, city, tmp_path):  # noqa: F811
    path = write_json(tmp_path / "volunteers.json", list(volunteers(3)))
    assert vgw("push", str(path), "--to", server.url, "--entity", "volunteer").exit_code == 0
    wait_for_feed(server.url, city, 3)
    spool = tmp_path / "spool"
    spool.mkdir()
    out, cursor_file = spool / "changes.ndjson", spool / "cursor"

    first = _cron_pull(vgw, server, out, cursor_file)
    assert first.exit_code == 0, first.output
    unread = out.read_bytes()
    assert len(unread.splitlines()) == 3
    assert cursor_file.read_text().strip() == cursor_of(first.stderr)
    assert oct(out.stat().st_mode & 0o777) == "0o600"

    second = _cron_pull(vgw, server, out, cursor_file)  # nothing new
    assert second.exit_code == 0, second.output
    assert out.read_bytes() == unread, "the batch the consumer has not read yet is still there"
    assert cursor_file.read_text().strip() == cursor_of(first.stderr)
    assert "left as it was" in second.stderr
    assert sorted(p.name for p in spool.iterdir()) == ["changes.ndjson", "cursor"]  # no temporaries


def test_a_failed_run_changes_neither_the_file_nor_the_cursor(vgw, server, city, tmp_path):  # noqa: F811
    path = write_json(tmp_path / "volunteers.json", list(volunteers(2)))
    assert vgw("push", str(path), "--to", server.url, "--entity", "volunteer").exit_code == 0
    wait_for_feed(server.url, city, 2)
    out, cursor_file = tmp_path / "changes.ndjson", tmp_path / "cursor"
    out.write_bytes(b'{"unread": true}\n')
    cursor_file.write_text("")
    jwks = write_json(tmp_path / "jwks.json", other_jwks("gateway-key"))

    failed = _cron_pull(vgw, server, out, cursor_file, "--jwks", str(jwks))
    assert failed.exit_code == 2
    assert out.read_bytes() == b'{"unread": true}\n'
    assert cursor_file.read_text() == ""
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_new_changes_replace_the_file_then_move_the_cursor(vgw, server, city, tmp_path):  # noqa: F811
    out, cursor_file = tmp_path / "changes.ndjson", tmp_path / "cursor"
    first = write_json(tmp_path / "a.json", list(volunteers(2)))
    assert vgw("push", str(first), "--to", server.url, "--entity", "volunteer").exit_code == 0
    wait_for_feed(server.url, city, 2)
    assert _cron_pull(vgw, server, out, cursor_file).exit_code == 0
    before = cursor_file.read_text().strip()

    second = write_json(tmp_path / "b.json", list(volunteers(1, start=5)))
    assert vgw("push", str(second), "--to", server.url, "--entity", "volunteer").exit_code == 0
    wait_for_feed(server.url, city, 1, since=before)
    run = _cron_pull(vgw, server, out, cursor_file)
    assert run.exit_code == 0, run.output
    assert len(out.read_bytes().splitlines()) == 1
    assert cursor_file.read_text().strip() == cursor_of(run.stderr) != before
