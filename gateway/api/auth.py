"""Request authentication: which :class:`~gateway.caller.Caller` this HTTP request is.

A request signed with HTTP Message Signatures (RFC 9421) by one of the client's registered
keys (:func:`gateway.exchange.signatures.verify_request`; the production path,
docs/protocol.md). A development bearer token (``Authorization: Bearer …``, issued by
``vgw clients token``) is also accepted, only when the DEV_TOKENS setting is on. Without
either, every protected endpoint answers 401 ``/problems/signature-missing``.
"""

from __future__ import annotations

from flask import current_app, g, request

from gateway.caller import Caller, Unauthenticated
from gateway.exchange import signatures
from gateway.services.clients import caller_for_token
from gateway.store import get_session

__all__ = ["current_caller"]


def current_caller() -> Caller:
    """The authenticated caller of this request, or 401."""
    if "caller" in g:
        return g.caller
    if "Signature" in request.headers or "Signature-Input" in request.headers:
        return signatures.verify_request(request)  # the production path
    header = request.headers.get("Authorization", "")
    if current_app.config["DEV_TOKENS"] and header.startswith("Bearer "):
        caller = caller_for_token(get_session(), header[len("Bearer "):].strip())
        if caller is not None:
            g.caller = caller
            return caller
        raise Unauthenticated("unknown, revoked or disabled token")
    dev = (" or a development token" if current_app.config["DEV_TOKENS"]
           else " (development tokens are off: DEV_TOKENS=false)")
    raise signatures.SignatureRejected("signature-missing", "this endpoint needs a request signed "
                                       "with HTTP Message Signatures (docs/protocol.md)" + dev)
