"""CI's bounded fuzz campaign: every operation of the served OpenAPI document, signed
exchange operations included, answers without a server error and as documented.

A small, derandomized run (the same requests each time, a few per operation and mode,
capped in time) so CI stays inside its budget; ``make fuzz`` runs a longer, random one.
"""

from __future__ import annotations

from tests.fuzz import campaign

MAX_EXAMPLES = 25
BUDGET_SECONDS = 150


def test_the_fuzz_campaign_finds_no_server_error_and_no_undocumented_answer(tmp_path, capsys):
    live, credentials, known = campaign.serve_gateway(tmp_path)
    try:
        outcome = campaign.run(live.url, credentials, known, max_examples=MAX_EXAMPLES,
                               budget_seconds=BUDGET_SECONDS, seed=20261202)
    finally:
        live.stop()
        live.app.extensions["store.engine"].dispose()
    with capsys.disabled():
        print("\n" + outcome.report().splitlines()[0])
    assert outcome.operations >= 55, outcome.report()  # every operation of the document
    assert outcome.requests >= 10 * outcome.operations, outcome.report()
    assert outcome.signed_ok > 0 and outcome.statuses[200] > 0  # generated bodies reached the logic
    assert not outcome.failures, outcome.report()
