"""Render ``docs/cli.md`` from the click commands of ``corrigo``, so the reference cannot drift from the code.

It lives with the tests, not in ``verifier/``: users read ``corrigo COMMAND --help`` or the generated page,
and only ``tests/docs/test_cli_reference.py`` (which compares and, with ``--update-golden``, rewrites the
page) needs to produce it.
"""

from __future__ import annotations

import inspect

import click

HEADER = """\
# CLI reference

<!-- generated from the click commands in verifier/cli.py; do not edit by hand. Regenerate with:
     python -m pytest tests/docs/test_cli_reference.py --update-golden -->

Every command of `corrigo` (also runnable as `python -m verifier`), in alphabetical order, with its
usage line, its help text and every option with its default. `corrigo COMMAND --help` prints the same.
Exit codes: 0 success (every check holds), 1 a check fails or is inconclusive, 2 a spec error (or a
usage error), 3 a resource limit or an internal error, or, before any command runs, another package
named `dsl`, `mdp` or `verifier` in the way of corrigo's (the message names its path and what to change).
A SPEC argument `-` reads the spec from standard input (`cat robot.corrigo | corrigo lint -`; it is named
`<stdin>` in messages), and `-o -` writes to standard output where one file is written.
"""


def render_cli_reference(group: click.Group, name: str = "corrigo") -> str:
    """The Markdown page: the group's own options, then one section per command."""
    # show_default=True: every option's default is stated, as click renders it in --help
    root = click.Context(group, info_name=name, show_default=True, **group.context_settings)
    parts = [HEADER, _section(group, root, f"`{name}`")]
    for command_name in group.list_commands(root):  # sorted by name, so merges do not reorder the page
        command = group.get_command(root, command_name)
        assert command is not None
        context = click.Context(command, info_name=command_name, parent=root, show_default=True,
                                **command.context_settings)
        parts.append(_section(command, context, f"`{name} {command_name}`"))
    return "\n".join(parts)


def _section(command: click.Command, context: click.Context, title: str) -> str:
    """Usage line, help text, arguments, and one bullet per option as ``--help`` words it."""
    usage = " ".join([context.command_path, *command.collect_usage_pieces(context)])
    lines = [f"## {title}", "", "```text", f"Usage: {usage}", "```", "", inspect.cleandoc(command.help or ""), ""]
    params = command.get_params(context)
    arguments = [p.make_metavar(context) for p in params if isinstance(p, click.Argument)]
    if arguments:
        lines += ["Arguments: " + ", ".join(f"`{a}`" for a in arguments) + ".", ""]
    lines += ["Options:", ""]
    for option in params:
        record = option.get_help_record(context) if isinstance(option, click.Option) else None
        if record is not None:
            names, text = record
            lines.append(f"- `{names}`: {' '.join(text.split())}".rstrip())
    return "\n".join(lines) + "\n"
