"""Response signatures over the wrong components: "@status" and "content-type" only.

The answers are signed again, with the gateway's own key, leaving "content-digest" out, so
the body is not covered by the signature (docs/protocol.md §4).
"""

import datetime as dt

from http_message_signatures import HTTPMessageSigner, MappingKeyResolver, algorithms
from requests.structures import CaseInsensitiveDict

DEFECT = 'response signatures leave "content-digest" out'
FAILS = {"server.push.answer_signed", "server.feed.answer_signed"}


class _Message:
    def __init__(self, status_code, content_type):
        self.status_code = status_code
        self.headers = CaseInsensitiveDict({"Content-Type": content_type})


def build(app):
    @app.after_request
    def resign(response):
        if "Signature" not in response.headers:
            return response
        key = app.extensions["signing.keyring"].active
        message = _Message(response.status_code, response.content_type or "")
        signer = HTTPMessageSigner(signature_algorithm=algorithms.ED25519,
                                   key_resolver=MappingKeyResolver(
                                       public_keys={}, private_keys={key.kid: key.private_key}))
        created = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        signer.sign(message, key_id=key.kid, created=created, label="gw",
                    expires=created + dt.timedelta(seconds=300),
                    covered_component_ids=("@status", "content-type"))
        for name in ("Signature-Input", "Signature"):
            response.headers[name] = message.headers[name]
        return response

    return app
