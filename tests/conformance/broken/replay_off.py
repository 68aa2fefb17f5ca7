"""Replay protection off: the nonce store remembers nothing, so a used nonce passes again."""

DEFECT = "replay protection off (every nonce is taken as new)"
FAILS = {"server.signatures.replayed"}


class ForgetfulNonces:
    def remember(self, key_id, nonce, *, now, expires_at) -> bool:
        return True


def build(app):
    app.extensions["exchange.nonces"] = ForgetfulNonces()
    return app
