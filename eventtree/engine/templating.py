"""Value templates: Django template syntax over `record`, `run` and `flags`, and nothing else."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.template import Context, Engine, Template

# No loaders and no extra libraries: a template cannot include files or reach other data.
_value_engine = Engine(autoescape=False, loaders=[], libraries={})
_html_engine = Engine(autoescape=True, loaders=[], libraries={})


@lru_cache(maxsize=2048)
def compile_template(text: str, *, html: bool = False) -> Template:
    return (_html_engine if html else _value_engine).from_string(text)


def render_value(text: str, context: dict[str, Any]) -> str:
    """Render a value template with autoescaping off (values are data, not HTML)."""
    if "{" not in text:
        return text
    return compile_template(text).render(Context(context, autoescape=False))


def render_html(text: str, context: dict[str, Any]) -> str:
    """Render a template whose output goes into HTML, with autoescaping on."""
    return compile_template(text, html=True).render(Context(context, autoescape=True))
