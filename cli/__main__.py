"""``python -m cli`` runs the ``petpro`` command (tests and benchmarks call it this way)."""

from cli.main import main

main()
