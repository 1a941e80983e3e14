from django.apps import AppConfig
from django.db.models.signals import post_delete, post_migrate, post_save, pre_save


class EventTreeConfig(AppConfig):
    name = "eventtree"
    verbose_name = "Event trees"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core.checks import Tags, register

        from eventtree import checks
        from eventtree import signal_handlers
        from eventtree.actions import control, http, messages, records
        from eventtree.actions.registry import registry
        from eventtree.kinds import action, background, condition, delay, kind_registry
        from eventtree.models import EventTree, Field, Form

        for action_class in (
            records.SetField,
            records.CreateRecord,
            messages.SendEmail,
            http.HttpRequest,
            control.SetFlag,
            control.ProgressAction,
            control.Log,
            control.Fail,
        ):
            registry.register(action_class)
        register(checks.check_stored_trees, Tags.database)
        for kind_class in (action.ActionKind, background.BackgroundKind, delay.DelayKind, condition.ConditionKind):
            kind_registry.register(kind_class)

        # A tree (its settings, its published version) or a field changing can change which trees
        # run and whether they can; the draft's nodes cannot.
        for model in (EventTree, Field):
            post_save.connect(signal_handlers.forget_active_trees, sender=model)
            post_delete.connect(signal_handlers.forget_active_trees, sender=model)
        post_save.connect(signal_handlers.sync_tree_schedule, sender=EventTree)
        post_delete.connect(signal_handlers.sync_tree_schedule, sender=EventTree)
        # A form or a field changing changes the cached form that submits and blocks read.
        pre_save.connect(signal_handlers.remember_old_slug, sender=Form)
        for model in (Form, Field):
            post_save.connect(signal_handlers.forget_form, sender=model)
            post_delete.connect(signal_handlers.forget_form, sender=model)
        post_migrate.connect(signal_handlers.ensure_schedules, sender=self)
