"""docs/cli.md is exactly what the click commands say (regenerate it with --update-golden)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from cli_reference import render_cli_reference

from verifier.cli import main

PAGE = Path(__file__).resolve().parent.parent.parent / "docs" / "cli.md"
REGENERATE = "python -m pytest tests/docs/test_cli_reference.py --update-golden"


def check_page(page: Path, text: str, update: bool) -> None:
    """Rewrite ``page`` when updating; otherwise fail, naming the command that regenerates it, if it differs."""
    if update:
        page.write_text(text, encoding="utf-8")
    current = page.read_text(encoding="utf-8") if page.exists() else ""
    if text != current:
        pytest.fail(f"{page.name} does not match the click commands in verifier/cli.py; regenerate it with\n"
                    f"    {REGENERATE}\nand commit it with your change", pytrace=False)


def test_cli_reference_is_up_to_date(request: pytest.FixtureRequest) -> None:
    check_page(PAGE, render_cli_reference(main), request.config.getoption("--update-golden"))


def test_a_stale_page_fails_with_the_command_that_regenerates_it(tmp_path: Path) -> None:
    page = tmp_path / "cli.md"
    page.write_text("# CLI reference\n")
    with pytest.raises(pytest.fail.Exception, match="python -m pytest tests/docs/test_cli_reference.py "
                                                    "--update-golden"):
        check_page(page, "# CLI reference\n\nnew\n", update=False)
    check_page(page, "# CLI reference\n\nnew\n", update=True)
    assert page.read_text() == "# CLI reference\n\nnew\n"


def test_every_command_lists_its_usage_and_every_option() -> None:
    sections = render_cli_reference(main).split("\n## ")
    context = click.Context(main, info_name="corrigo")
    for name in main.list_commands(context):
        command = main.get_command(context, name)
        assert command is not None
        [section] = [s for s in sections if s.startswith(f"`corrigo {name}`\n")]
        assert f"Usage: corrigo {name} [OPTIONS]" in section
        for option in command.params:
            if isinstance(option, click.Option):
                assert all(f"{flag}" in section for flag in option.opts), (name, option.opts)


def test_defaults_and_choices_are_stated() -> None:
    text = render_cli_reference(main)
    assert ("- `--format [text|json|markdown|sarif|junit]`: The report format; sarif and junit also report spec "
            "errors, located, for CI. [default: text]") in text
    assert "with suffix .props). [required]" in text
    assert ("- `--tol FLOAT RANGE`: Certified error bound the value iteration aims for before policy evaluation. "
            "[default: 1e-09; x>0]") in text
    assert "- `-h, --help`: Show this message and exit." in text
