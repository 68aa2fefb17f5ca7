"""A broken CLIENT: the reference client, except that every attempt gets a new Idempotency-Key.

``python -m tests.conformance.broken.client_new_key push FILE --to URL --client-id C
--key-id K --key PEM`` pushes a JSON array of volunteers with the gateway's GatewayClient, whose
session appends the attempt's number to the Idempotency-Key of each request it sends — so a
retry after a 503 or a dropped connection looks like a new batch to the gateway.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import requests

from gateway.exchange.client import GatewayClient

DEFECT = "retries a batch with a new Idempotency-Key"
FAILS = {"client.push.retry_after_503", "client.push.retry_after_drop"}


class NewKeyEveryAttempt(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self._attempts = itertools.count(1)

    def request(self, method, url, **kwargs):
        headers = dict(kwargs.pop("headers", None) or {})
        if "Idempotency-Key" in headers:
            headers["Idempotency-Key"] = f"{headers['Idempotency-Key'][:100]}-{next(self._attempts)}"
        return super().request(method, url, headers=headers, **kwargs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["push"])
    parser.add_argument("file", type=Path)
    parser.add_argument("--to", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--key-id", required=True)
    parser.add_argument("--key", required=True, type=Path)
    args = parser.parse_args(argv)
    client = GatewayClient(args.to, args.client_id, args.key_id, args.key.read_bytes(),
                           gateway_jwks="fetch", session=NewKeyEveryAttempt())
    result = client.push(json.loads(args.file.read_text("utf-8")), entity="volunteer")
    print(json.dumps(result.summary))
    return 0 if result.all_accepted else 1


if __name__ == "__main__":
    sys.exit(main())
