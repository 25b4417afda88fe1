"""Allow `python -m fastscaffold`."""

from fastscaffold.cli import main

main()
