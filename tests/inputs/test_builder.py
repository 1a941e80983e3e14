"""The builder's input forms refuse, where they are typed, values that would fail every submit."""

from __future__ import annotations

import pytest

from eventtree.inputs.builder import FieldForm, FormSettingsForm, node_config_clean, node_config_form
from eventtree.models import Field, Form, Node

pytestmark = pytest.mark.django_db


@pytest.fixture
def form() -> Form:
    return Form.objects.create(slug="f", name="F")


def field_form(form: Form, **data: str) -> FieldForm:
    return FieldForm({"name": "n", "type": "number", **data}, form=form)


@pytest.mark.parametrize("text", ["NaN", "nan", "inf", "-Infinity", "1e309"])
def test_a_number_default_that_is_not_finite_is_refused(form: Form, text: str) -> None:
    bound = field_form(form, default=text)

    assert not bound.is_valid()
    assert "not a finite number" in bound.errors["default"][0]


@pytest.mark.parametrize(("field_type", "text", "default"),
                         [("number", "3", 3), ("number", "0.5", 0.5), ("checkbox", "yes", True), ("text", "", None)])
def test_a_valid_default_is_stored_typed(form: Form, field_type: str, text: str, default) -> None:
    bound = field_form(form, type=field_type, default=text)

    assert bound.is_valid(), bound.errors
    assert bound.field_values()["default"] == default


@pytest.mark.parametrize("name", ["csrfmiddlewaretoken", "id", "created_at"])
def test_a_reserved_field_name_is_refused(form: Form, name: str) -> None:
    bound = field_form(form, name=name)

    assert not bound.is_valid()
    assert "is a reserved name" in bound.errors["name"][0]


def test_a_post_submission_message_that_is_not_a_template_is_refused(form: Form) -> None:
    data = {"name": "F", "slug": "f", "success_message": "Thanks {% if record.name %}"}
    bound = FormSettingsForm(data, instance=form)

    assert not bound.is_valid()
    assert bound.errors["success_message"][0].startswith("Template error: ")
    assert FormSettingsForm({**data, "success_message": "Thanks {{ record.name }}"}, instance=form).is_valid()


@pytest.mark.parametrize(
    ("data", "valid"),
    [
        ({"amount": "3653", "unit": "86400"}, True),
        ({"amount": "3654", "unit": "86400"}, False),
        ({"amount": str(10**12), "unit": "1"}, False),
        ({"amount": "10000000", "unit": "86400", "field": "day", "direction": "before"}, False),
    ],
)
def test_a_delay_over_ten_years_is_refused(form: Form, data: dict[str, str], valid: bool) -> None:
    node = Node(kind="delay", config={"seconds": 0})
    fields = [Field(form=form, name="day", type="date")]
    data = {"config-field": "", "config-direction": "after", **{f"config-{key}": value for key, value in data.items()}}
    bound = node_config_form(node, fields, data)

    config = node_config_clean(node, bound, fields)

    assert (config is not None) == valid
    if not valid:
        assert "at most 10 years" in bound.errors["amount"][0]
