"""The form package: a form, its fields and its event trees as one JSON document (DESIGN §5).

`export` writes it, `validation` says what is wrong with one, `imports` reads it into the
database. Node kinds (`eventtree.kinds`) write, read and validate their own keys.
"""

from eventtree.services.packages.export import form_package_export
from eventtree.services.packages.format import MAX_DEPTH, MAX_NODES
from eventtree.services.packages.imports import form_package_import, form_package_load
from eventtree.services.packages.validation import PackageInvalid, form_package_validate

__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "PackageInvalid",
    "form_package_export",
    "form_package_import",
    "form_package_load",
    "form_package_validate",
]
