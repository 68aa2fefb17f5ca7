"""Benchmarks: one command each, printing figures and ratios against the naive path.

Run all with ``make bench`` (``python -m benchmarks``) or one with
``python -m benchmarks.validation``. They are not tests: nothing here asserts a time.
"""
