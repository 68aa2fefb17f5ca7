"""Simulated local systems the adapters are tested against (small Flask apps on 127.0.0.1).

Each simulator behaves like the real system it stands for, quirks included, keeps its data
in memory and can be started in a thread by a test (``running(...)``) or as a separate
process by a benchmark (``python -m tests.simulators.<name>``).
"""
