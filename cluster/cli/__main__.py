"""``python -m cluster.cli``."""

from cluster.cli import main

main()
