"""Run every benchmark in turn: ``python -m benchmarks`` (or ``make bench``)."""

from benchmarks import cli_memory, validation

if __name__ == "__main__":
    print("== validation engine vs. plain jsonschema ==")
    validation.main([])
    print("\n== vgw validate: peak memory as the file grows ==")
    cli_memory.main([])
