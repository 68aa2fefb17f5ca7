"""What a test receives: the configuration, a client for the system, test data, evidence.

``Context`` is built by the runner once per run (``ctx.state`` is shared between tests of
one run, e.g. the records a push test created for the feed tests to look for). Every HTTP
exchange a test makes is recorded as evidence through ``ctx.record_exchange`` so that the
report can show what was sent and what came back (personal data masked by the reporters).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported for types only: the runner wires the real objects
    from .config import SuiteConfig
    from .datagen import DataFactory
    from .http import SystemClient


@dataclass
class Exchange:
    """One HTTP request and its answer, as the report shows them."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: bytes | None
    status: int | None                     # None: no answer (connection refused, timeout)
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: bytes | None = None
    note: str = ""                         # e.g. "signature tampered: last byte flipped"


@dataclass
class Context:
    """Everything a test may use. Tests talk to the system only through ``http``."""

    config: "SuiteConfig"
    http: "SystemClient"
    data: "DataFactory"
    run_id: str                                   # tags every record this run creates
    state: dict[str, Any] = field(default_factory=dict)
    evidence: list[Exchange | tuple[str, Any]] = field(default_factory=list)
    progress: Any = None                          # callable(str) printing a line (client role)

    @property
    def schema_version(self) -> str:
        """The schema version the run tests in ("1" or "2", ``[server] schema_version``)."""
        return self.config.server.schema_version

    def feed_params(self) -> dict[str, str]:
        """What every read of the feed adds to its query: ``schema_version`` when it is not 1
        (in version 1 the feed is read without it, as a system knowing only v1 expects)."""
        return {} if self.schema_version == "1" else {"schema_version": self.schema_version}

    def record_exchange(self, exchange: Exchange) -> None:
        self.evidence.append(exchange)

    def note(self, label: str, value: Any) -> None:
        """Attach a labelled observation (JSON-serialisable) to the current test's result."""
        self.evidence.append((label, value))
