"""The conformance suite integrators run against their own system (docs/conformance.md).

It talks to the system under test over HTTP only and never imports ``gateway``.
"""

__version__ = "0.1.0"
