"""``python -m verifier``: the ``corrigo`` command without the console script (e.g. from a git worktree)."""

from .startup import main

main()
