"""Renderers of a :class:`~verifier.results.Report`: text (rich), JSON (versioned), Markdown and HTML."""

from .html import render_html
from .markdown import render_markdown
from .serialize import SCHEMA_VERSION, to_json
from .text import render_explanation, render_text

__all__ = ["SCHEMA_VERSION", "render_explanation", "render_html", "render_markdown", "render_text", "to_json"]
