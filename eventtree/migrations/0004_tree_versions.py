"""Versions (DESIGN §3.10): every existing tree is published as version 1 of itself, as it is,
and its runs are runs of that version; blocks and steps keep their node's id as `node_key`, an id
within the run's version instead of a link to the editable node."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.models import F


def node_keys_copy(apps, schema_editor):
    for name in ("Block", "Step"):  # one UPDATE a table, however many steps runs left
        apps.get_model("eventtree", name).objects.exclude(node__isnull=True).update(node_key=F("node_id"))


def snapshot(nodes_by_parent, parent_id):
    return [
        {"id": node.pk, "kind": node.kind, "action": node.action, "label": node.label,
         "config": node.config, "children": snapshot(nodes_by_parent, node.pk)}
        for node in nodes_by_parent.get(parent_id, [])
    ]


def trees_publish(apps, schema_editor):
    EventTree = apps.get_model("eventtree", "EventTree")
    Node = apps.get_model("eventtree", "Node")
    Run = apps.get_model("eventtree", "Run")
    TreeVersion = apps.get_model("eventtree", "TreeVersion")
    for tree in EventTree.objects.all().iterator():
        nodes_by_parent = {}
        for node in Node.objects.filter(tree=tree).order_by("position", "id"):
            nodes_by_parent.setdefault(node.parent_id, []).append(node)
        version = TreeVersion.objects.create(
            tree=tree, number=1, nodes=snapshot(nodes_by_parent, None),
            note="The tree as it was when versions were introduced",
        )
        EventTree.objects.filter(pk=tree.pk).update(published=version)
        Run.objects.filter(tree=tree).update(version=version)


class Migration(migrations.Migration):

    dependencies = [
        ("eventtree", "0003_run_depth_block_woken_at"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="block",
            name="node_key",
            field=models.PositiveBigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="step",
            name="node_key",
            field=models.PositiveBigIntegerField(blank=True, null=True),
        ),
        migrations.RunPython(node_keys_copy, migrations.RunPython.noop),
        migrations.RemoveField(model_name="block", name="node"),
        migrations.RemoveField(model_name="step", name="node"),
        migrations.CreateModel(
            name="TreeVersion",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("number", models.PositiveIntegerField()),
                ("nodes", models.JSONField(default=list)),
                ("note", models.CharField(blank=True, max_length=200)),
                ("published_at", models.DateTimeField(auto_now_add=True)),
                ("published_by", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL)),
                ("tree", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="versions", to="eventtree.eventtree")),
            ],
            options={"ordering": ["tree", "-number"]},
        ),
        migrations.AddConstraint(
            model_name="treeversion",
            constraint=models.UniqueConstraint(fields=("tree", "number"), name="version_number_unique_per_tree"),
        ),
        migrations.AddField(
            model_name="eventtree",
            name="published",
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to="eventtree.treeversion"),
        ),
        migrations.AddField(
            model_name="run",
            name="version",
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name="runs", to="eventtree.treeversion"),
        ),
        migrations.AlterModelOptions(
            name="eventtree",
            options={
                "ordering": ["form", "position", "id"],
                "permissions": [("publish_eventtree", "Can publish a tree's draft, or an older version again")],
            },
        ),
        migrations.RunPython(trees_publish, migrations.RunPython.noop),
    ]
