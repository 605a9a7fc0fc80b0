"""Renderers of a :class:`~verifier.results.Report`: text (rich), JSON (versioned), Markdown, HTML, SARIF, JUnit XML."""

from .html import render_check_html, render_html
from .junit import to_junit
from .markdown import render_markdown
from .sarif import to_sarif
from .serialize import SCHEMA_VERSION, to_json
from .text import render_explanation, render_text, short_explanation

__all__ = [
    "SCHEMA_VERSION", "render_check_html", "render_explanation", "render_html", "render_markdown", "render_text", "short_explanation",
    "to_json", "to_junit", "to_sarif",
]
