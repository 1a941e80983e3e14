"""Value templates: Django template syntax over `record`, `run` and `flags`, and nothing else.

The engine is restricted: no loaders, no `{% load %}`, `{% include %}`, `{% extends %}`,
`{% debug %}`, `{% url %}`, `{% csrf_token %}` or `{% autoescape %}`, and no `safe` filters,
so a template can neither reach files or settings nor mark a visitor's text as HTML. The data
is read-only: a template that names a method of a dict or list (`{{ flags.clear }}`) gets
nothing, and can change nothing.
"""

from __future__ import annotations

from functools import lru_cache
from types import MappingProxyType
from typing import Any

import nh3
from django.template import Context, Engine, Library, Template, defaultfilters, defaulttags

ALLOWED_TAGS = (
    "comment", "cycle", "filter", "firstof", "for", "if", "ifchanged", "now", "regroup",
    "resetcycle", "spaceless", "templatetag", "verbatim", "widthratio", "with",
)
REFUSED_FILTERS = {"safe", "safeseq", "pprint", "json_script"}


def restricted_library() -> Library:
    library = Library()
    library.tags = {name: defaulttags.register.tags[name] for name in ALLOWED_TAGS}
    library.filters = {
        name: function
        for name, function in defaultfilters.register.filters.items()
        if name not in REFUSED_FILTERS
    }
    return library


class RestrictedEngine(Engine):
    """A template engine whose only built-ins are the allowed tags and filters."""

    library = restricted_library()

    def get_template_builtins(self, builtins: list[str]) -> list[Library]:
        return [self.library]


_value_engine = RestrictedEngine(autoescape=False, loaders=[], libraries={})
_html_engine = RestrictedEngine(autoescape=True, loaders=[], libraries={})


@lru_cache(maxsize=2048)
def compile_template(text: str, *, html: bool = False) -> Template:
    """Compile, or raise TemplateSyntaxError (an unknown or refused tag or filter included)."""
    return (_html_engine if html else _value_engine).from_string(text)


def template_data(value: Any) -> Any:
    """`value` as templates may see it: dicts read-only, lists as tuples, recursively."""
    if isinstance(value, dict):
        return MappingProxyType({key: template_data(item) for key, item in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(template_data(item) for item in value)
    return value


def render_value(text: str, context: dict[str, Any]) -> str:
    """Render a value template with autoescaping off (values are data, not HTML).

    Returns a plain `str`, never a SafeString: what a visitor typed stays text to be escaped
    wherever it is shown later.
    """
    if "{" not in text:
        return str.__str__(text)
    rendered = compile_template(text).render(Context(template_data(context), autoescape=False))
    return str.__str__(rendered)


def render_html(text: str, context: dict[str, Any]) -> str:
    """Render a template whose output goes into HTML (an email's HTML part): the values are
    escaped, and the builder's own markup is cleaned by nh3 of anything that runs or loads
    (scripts, event handlers, `javascript:` links), keeping the formatting."""
    html = compile_template(text, html=True).render(Context(template_data(context), autoescape=True))
    return nh3.clean(html)
