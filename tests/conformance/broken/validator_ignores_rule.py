"""A validator that ignores a rule: citizen_id.checksum reports nothing.

The rule is swapped out of the standard's rule registry while this system is built and
tested (``patch``), so records with a wrong ID check character are stored.
"""

import contextlib
import dataclasses

DEFECT = "the validator ignores the rule citizen_id.checksum"
FAILS = {"server.validation.invalid_records"}


@contextlib.contextmanager
def patch():
    from gateway.standard import rules

    original = rules._REGISTRY["citizen_id.checksum"]
    rules._REGISTRY["citizen_id.checksum"] = dataclasses.replace(original,
                                                                 fn=lambda record, ctx: iter(()))
    try:
        yield
    finally:
        rules._REGISTRY["citizen_id.checksum"] = original


def build(app):
    return app
