"""Allow `python -m generator` as a synonym for the `gen` command."""

from generator.cli import main

main()
