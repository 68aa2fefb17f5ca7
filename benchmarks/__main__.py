"""Run every benchmark in turn: ``python -m benchmarks`` (or ``make bench``)."""

from benchmarks import cli_memory, push, sync_pull, validation

if __name__ == "__main__":
    print("== validation engine vs. plain jsonschema ==")
    validation.main([])
    print("\n== vgw validate: peak memory as the file grows ==")
    cli_memory.main([])
    # Needs PostgreSQL on 127.0.0.1:5432 (skipped, with a line saying so, without it); the
    # 1,000,000-record run takes a while.
    print("\n== sync runs into PostgreSQL: records/s and peak memory, 100,000 vs 1,000,000 ==")
    sync_pull.main([])
    # Needs PostgreSQL too (skipped without it); about ten minutes, most of it the 200 MB batch.
    print("\n== push through gunicorn into PostgreSQL vs. one commit per record; memory on "
          "one 200 MB batch ==")
    push.main([])
