from django.urls import path

from eventtree.views import editor, records

app_name = "builder"

urlpatterns = [
    path("", editor.form_list, name="forms"),
    path("import/", editor.form_import, name="form-import"),
    path("forms/<slug:slug>/", editor.form_detail, name="form"),
    path("forms/<slug:slug>/delete/", editor.form_delete, name="form-delete"),
    path("forms/<slug:slug>/export/", editor.form_export, name="form-export"),
    path("forms/<slug:slug>/fields/", editor.field_list, name="fields"),
    path("forms/<slug:slug>/fields/add/", editor.field_add, name="field-add"),
    path("forms/<slug:slug>/fields/<int:field_id>/", editor.field_edit, name="field"),
    path("forms/<slug:slug>/fields/<int:field_id>/move/", editor.field_move, name="field-move"),
    path("forms/<slug:slug>/fields/<int:field_id>/delete/", editor.field_delete, name="field-delete"),
    path("forms/<slug:slug>/trees/add/", editor.tree_create, name="tree-add"),
    path("forms/<slug:slug>/records/", records.record_list, name="records"),
    path("records/<int:record_id>/", records.record_detail, name="record"),
    path("records/<int:record_id>/edit/", records.record_edit, name="record-edit"),
    path("blocks/<int:block_id>/cancel/", records.block_action, {"action": "cancel"}, name="block-cancel"),
    path("blocks/<int:block_id>/retry/", records.block_action, {"action": "retry"}, name="block-retry"),
    path("trees/<int:tree_id>/", editor.tree_detail, name="tree"),
    path("trees/<int:tree_id>/settings/", editor.tree_settings, name="tree-settings"),
    path("trees/<int:tree_id>/delete/", editor.tree_delete, name="tree-delete"),
    path("trees/<int:tree_id>/nodes/add/", editor.node_add, name="node-add"),
    path("nodes/<int:node_id>/", editor.node_edit, name="node"),
    path("nodes/<int:node_id>/move/", editor.node_move, name="node-move"),
    path("nodes/<int:node_id>/delete/", editor.node_delete, name="node-delete"),
]
