"""Form packages (DESIGN §5) for the integration tests: built here, imported with `import_form`.

Every block of these trees leaves effects that can be counted without the engine's help: it adds
one to a counter field of the record and to a field of its own, and may send an email whose
subject names the block and the record.
"""

from __future__ import annotations

from typing import Any


def set_field(field: str, value: str) -> dict[str, Any]:
    return {"kind": "action", "action": "set_field", "config": {"field": field, "value": value}}


def count(field: str) -> dict[str, Any]:
    """Add one to a number field. Blocks of one record are serialised by the record's row lock,
    so a field counted by several blocks also shows a lost update."""
    return set_field(field, f"{{{{ record.{field}|add:1 }}}}")


def email(tag: str) -> dict[str, Any]:
    return {"kind": "action", "action": "send_email",
            "config": {"to": "{{ record.email }}", "subject": f"{tag} {{{{ record.name }}}}",
                       "body": "n is {{ record.n }}"}}


def sleep(seconds: float) -> dict[str, Any]:
    """The test-only action of tests/testapp: holds the block open."""
    return {"kind": "action", "action": "sleep", "config": {"seconds": seconds}}


def background(label: str, *children: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "background", "label": label, "children": list(children)}


def delay(label: str, seconds: int, *children: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "delay", "label": label, "seconds": seconds, "children": list(children)}


def form_package(slug: str, nodes: list[dict[str, Any]], *, counters: tuple[str, ...] = ("n",),
                 texts: tuple[str, ...] = (), max_attempts: int = 3) -> dict[str, Any]:
    return {
        "form": {"slug": slug, "name": slug.capitalize(), "fields": [
            {"name": "name", "type": "text", "required": True},
            {"name": "email", "type": "email", "required": True},
            *({"name": name, "type": "number", "internal": True, "default": 0} for name in counters),
            *({"name": name, "type": "text", "internal": True} for name in texts),
        ]},
        "trees": [{"name": "On submit", "event": "submitted", "mode": "sync", "active": True,
                   "max_attempts": max_attempts, "nodes": nodes}],
    }


def visitor(i: int, prefix: str = "v") -> dict[str, str]:
    return {"name": f"{prefix}{i}", "email": f"{prefix}{i}@example.com"}
