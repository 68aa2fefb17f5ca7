"""The exchange protocol: how local systems and the gateway talk across the boundary.

- :mod:`gateway.exchange.keys` — clients' public keys (register, rotate, revoke; key ids).
- :mod:`gateway.exchange.signatures` — RFC 9421 request verification (``verify_request``,
  wired into :func:`gateway.api.auth.current_caller`) and response signing (``sign_response``,
  ``@signed``, ``sign_responses``), each refusal a 401 problem+json of its own type.
- :mod:`gateway.exchange.nonces` — the replay guard shared by every worker (the store's
  ``request_nonces`` table behind a one-method interface).
- :mod:`gateway.exchange.client_auth` — the client side: a ``requests`` auth that signs as
  this gateway expects, and a verifier for the gateway's signed responses (JWK set only).

docs/protocol.md is the integrator's description of the same rules. Importing this package
does nothing; each module is imported where it is used.
"""
