"""The personal-data log check (tests/logcheck.py, run over every test log at the end of the
run) catches a seeded leak: a number the test helpers generated, logged into a log folder of
its own, is found; the same line masked is not."""

from __future__ import annotations

import logging
from pathlib import Path

from stdnum.cn import ric

from gateway.privacy import mask_id_number, mask_mobile
from tests import factories, logcheck


def _log_into(folder: Path, name: str, *lines: str) -> None:
    """Write ``lines`` through the logging machinery into ``folder/name`` only (this logger
    does not propagate, so nothing reaches the run's own test logs)."""
    logger = logging.getLogger(f"tests.seeded-leak.{name}")
    logger.propagate = False
    handler = logging.FileHandler(folder / name, encoding="utf-8")
    logger.addHandler(handler)
    try:
        for line in lines:
            logger.warning(line)
    finally:
        logger.removeHandler(handler)
        handler.close()


def test_a_generated_number_in_a_log_is_caught(tmp_path):
    number, phone = factories.citizen_id(), factories.mobile()
    _log_into(tmp_path, "worker.log", "registering a volunteer", f"rejected {number} / {phone}")
    known = logcheck.known_personal_data(tmp_path)
    assert {number, phone} <= known  # generated, never written in a test module
    assert sorted(logcheck.find_leaks(tmp_path, known)) == sorted(
        [f"worker.log: {number[:3]}…", f"worker.log: {phone[:3]}…"])


def test_masked_numbers_are_no_leak(tmp_path):
    number, phone = factories.citizen_id(), factories.mobile()
    _log_into(tmp_path, "worker.log", f"rejected {mask_id_number(number)} / {mask_mobile(phone)}")
    assert logcheck.find_leaks(tmp_path, logcheck.known_personal_data(tmp_path)) == []


def test_a_number_another_worker_generated_is_known_through_its_numbers_file(tmp_path):
    body = "32010219770707" + "513"  # computed here, so neither a literal nor in GENERATED
    number = body + ric.calc_check_digit(body + "0")
    assert number not in factories.GENERATED
    _log_into(tmp_path, "gw1.log", f"person {number}")
    assert logcheck.find_leaks(tmp_path, logcheck.known_personal_data(tmp_path)) == []
    (tmp_path / "gw1.numbers").write_text(f"{number}\n", encoding="utf-8")
    assert logcheck.find_leaks(tmp_path, logcheck.known_personal_data(tmp_path)) == ["gw1.log: 320…"]
