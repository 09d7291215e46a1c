"""`python -m segc` runs the segc command."""

from segc.cli import run

run()
