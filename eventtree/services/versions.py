"""Publishing trees (DESIGN §3.10): check the draft, then make an immutable version live; roll
back to an older one; discard the draft. Every publish leaves a version with who and when."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Max

from eventtree.engine.trees import draft_problems, tree_load
from eventtree.engine.versions import version_snapshot
from eventtree.models import EventTree, Field, Node, TreeVersion
from eventtree.services.trees import tree_locked


class PublishRefused(Exception):
    """The draft does not validate: `problems` lists what is wrong, by node id."""

    def __init__(self, problems: dict[int, list[str]]) -> None:
        count = len(problems)
        super().__init__(f"{count} node{'s' if count != 1 else ''} need{'s' if count == 1 else ''} attention")
        self.problems = problems


def tree_publish(*, tree: EventTree, user: AbstractBaseUser | None, note: str = "") -> TreeVersion:
    """Check the whole draft and make it a new version that new runs use.

    Raises PublishRefused, having changed nothing, when any node of the draft has a problem.
    """
    with transaction.atomic():
        tree = tree_locked(tree.pk)
        roots = tree_load(tree.pk)
        fields = {field.name: field for field in Field.objects.filter(form_id=tree.form_id)}
        problems = draft_problems(roots, fields)
        if problems:
            raise PublishRefused(problems)
        return version_create(tree=tree, snapshot=version_snapshot(roots), user=user, note=note)


def version_republish(*, version: TreeVersion, user: AbstractBaseUser | None, note: str = "") -> TreeVersion:
    """Roll back: publish an older version's nodes again, as a new version. The draft stays."""
    with transaction.atomic():
        tree = tree_locked(version.tree_id)
        return version_create(tree=tree, snapshot=version.nodes, user=user,
                              note=note or f"Version {version.number} published again")


def version_create(
    *, tree: EventTree, snapshot: list[dict[str, Any]], user: AbstractBaseUser | None, note: str = ""
) -> TreeVersion:
    """Call inside `atomic` with the tree row locked (`tree_locked`): store `snapshot` as the
    tree's next version and publish it. No check: `tree_publish` checks a draft first."""
    number = (TreeVersion.objects.filter(tree=tree).aggregate(top=Max("number"))["top"] or 0) + 1
    version = TreeVersion.objects.create(
        tree=tree, number=number, nodes=snapshot, published_by=user, note=note[:200]
    )
    tree.published = version
    tree.save(update_fields=["published", "updated_at"])  # its post_save forgets the cached trees
    return version


def draft_discard(*, tree: EventTree) -> None:
    """Make the draft the published version again, node ids included (so the runs' traces and
    flags keep naming the same nodes). A tree never published gets an empty draft."""
    with transaction.atomic():
        tree = tree_locked(tree.pk)
        Node.objects.filter(tree=tree).delete()
        snapshot = tree.published.nodes if tree.published_id else []
        level: list[tuple[int | None, list[dict[str, Any]]]] = [(None, snapshot)]
        while level:
            nodes = [
                Node(pk=item["id"], tree=tree, parent_id=parent_id, position=position, kind=item["kind"],
                     action=item["action"], label=item["label"], config=item["config"])
                for parent_id, items in level
                for position, item in enumerate(items)
            ]
            Node.objects.bulk_create(nodes)
            level = [(item["id"], item["children"]) for _, items in level for item in items if item["children"]]
