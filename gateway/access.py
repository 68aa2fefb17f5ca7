"""Moved (issue 13): kept only so that branches written before the move still import.

- the caller value: :mod:`gateway.caller` (``Caller``, ``PERMISSIONS``, ``Unauthenticated``)
- clients and development tokens: :mod:`gateway.services.clients`
- request authentication: :func:`gateway.api.auth.current_caller`

Nothing in the tree imports this module; import from the new homes. It goes once the
branches of this session are merged.
"""

from gateway.api.auth import current_caller
from gateway.caller import PERMISSIONS, Caller, Unauthenticated
from gateway.services.clients import (caller_for_token, create_client, hash_token, issue_dev_token,
                                      revoke_tokens)

__all__ = ["PERMISSIONS", "Caller", "Unauthenticated", "caller_for_token", "create_client",
           "current_caller", "hash_token", "issue_dev_token", "revoke_tokens"]
