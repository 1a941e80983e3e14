"""Every config key of every node kind and action type says what it is for, in the editor."""

from __future__ import annotations

import pytest

from eventtree.actions.registry import registry
from eventtree.inputs.builder import node_config_form
from eventtree.kinds import kind_registry
from eventtree.models import Field, Form, Node

CASES = [("action", key) for key in registry.keys()] + [(kind.key, "") for kind in kind_registry if kind.key != "action"]


@pytest.mark.parametrize(("kind", "action"), CASES)
def test_every_config_key_has_a_help_text(kind: str, action: str):
    form = Form(slug="f", name="F")
    fields = [Field(form=form, name="name"), Field(form=form, name="when", type="date")]
    config_form = node_config_form(Node(kind=kind, action=action, config={}), fields)

    missing = [name for name, field in config_form.fields.items() if not field.help_text]
    assert not missing, f"{kind} {action}: no help text for {missing}"
