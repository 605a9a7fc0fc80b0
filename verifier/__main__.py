"""``python -m verifier``: the ``corrigo`` command without the console script (e.g. from a git worktree)."""

from .cli import main

main(prog_name="corrigo")
