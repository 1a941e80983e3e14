from django.urls import path

from eventtree.views.builder import fields, forms, nodes, records, runs, testrun, trees, versions

app_name = "builder"

urlpatterns = [
    path("", forms.form_list, name="forms"),
    path("import/", forms.form_import, name="form-import"),
    path("forms/<slug:slug>/", forms.form_detail, name="form"),
    path("forms/<slug:slug>/delete/", forms.form_delete, name="form-delete"),
    path("forms/<slug:slug>/export/", forms.form_export, name="form-export"),
    path("forms/<slug:slug>/fields/", fields.field_list, name="fields"),
    path("forms/<slug:slug>/fields/add/", fields.field_add, name="field-add"),
    path("forms/<slug:slug>/fields/<int:field_id>/", fields.field_edit, name="field"),
    path("forms/<slug:slug>/fields/<int:field_id>/move/", fields.field_move, name="field-move"),
    path("forms/<slug:slug>/fields/<int:field_id>/delete/", fields.field_delete, name="field-delete"),
    path("forms/<slug:slug>/trees/add/", trees.tree_create, name="tree-add"),
    path("forms/<slug:slug>/records/", records.record_list, name="records"),
    path("records/<int:record_id>/", records.record_detail, name="record"),
    path("records/<int:record_id>/edit/", records.record_edit, name="record-edit"),
    path("blocks/<int:block_id>/cancel/", records.block_action, {"action": "cancel"}, name="block-cancel"),
    path("blocks/<int:block_id>/retry/", records.block_action, {"action": "retry"}, name="block-retry"),
    path("runs/", runs.run_list, name="runs"),
    path("runs/<int:run_id>/", runs.run_detail, name="run"),
    path("runs/<int:run_id>/replay/", runs.run_replay, name="run-replay"),
    path("trees/<int:tree_id>/", trees.tree_detail, name="tree"),
    path("trees/<int:tree_id>/settings/", trees.tree_settings, name="tree-settings"),
    path("trees/<int:tree_id>/delete/", trees.tree_delete, name="tree-delete"),
    path("trees/<int:tree_id>/test/", testrun.tree_test, name="tree-test"),
    path("trees/<int:tree_id>/publish/", versions.tree_publish, name="tree-publish"),
    path("trees/<int:tree_id>/discard/", versions.draft_discard, name="tree-discard"),
    path("trees/<int:tree_id>/versions/<int:number>/", versions.version_detail, name="tree-version"),
    path("trees/<int:tree_id>/versions/<int:number>/publish/", versions.version_republish,
         name="tree-version-publish"),
    path("trees/<int:tree_id>/nodes/add/", nodes.node_add, name="node-add"),
    path("nodes/<int:node_id>/", nodes.node_edit, name="node"),
    path("nodes/<int:node_id>/move/", nodes.node_move, name="node-move"),
    path("nodes/<int:node_id>/delete/", nodes.node_delete, name="node-delete"),
    path("nodes/<int:node_id>/runs/", runs.node_runs, name="node-runs"),
    path("nodes/<int:node_id>/duplicate/", nodes.node_duplicate, name="node-duplicate"),
    path("nodes/<int:node_id>/preview/", nodes.node_preview, name="node-preview"),
]
