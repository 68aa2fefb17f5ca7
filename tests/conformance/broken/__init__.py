"""Deliberately broken systems under test: the gateway with exactly one defect each.

Each module has ``DEFECT`` (what is wrong), ``FAILS`` (the conformance tests that must fail
against it, and only those) and ``build(app) -> wsgi`` (wrap or alter a freshly built gateway
app); ``patch()`` (optional) is a context manager held while the app is built and tested.
The broken client (``client_new_key``) is the reference client with one defect.
"""

SERVER_SYSTEMS = ("replay_off", "feed_skips_change", "wrong_response_components",
                  "idempotency_anew", "validator_ignores_rule", "feed_ignores_version")
