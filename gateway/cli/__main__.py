"""``python -m gateway.cli`` is ``vgw``."""

from gateway.cli import main

main()
