"""An idempotency store that answers anew: every push is taken as a new Idempotency-Key.

A WSGI middleware gives each request's Idempotency-Key a unique suffix before the gateway
sees it (the key is not covered by the signature), so a repeated key is processed again and
a reused key with another body is accepted.
"""

import itertools

DEFECT = "the idempotency store never finds a stored answer (each push processed anew)"
FAILS = {"server.push.idempotent_replay", "server.push.idempotency_key_reused"}


def build(app):
    inner = app.wsgi_app
    counter = itertools.count(1)

    def forgetful(environ, start_response):
        key = environ.get("HTTP_IDEMPOTENCY_KEY")
        if key:
            environ["HTTP_IDEMPOTENCY_KEY"] = f"{key[:100]}.{next(counter)}"
        return inner(environ, start_response)

    app.wsgi_app = forgetful
    return app
