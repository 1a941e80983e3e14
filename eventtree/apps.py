from django.apps import AppConfig
from django.db.models.signals import post_delete, post_migrate, post_save


class EventTreeConfig(AppConfig):
    name = "eventtree"
    verbose_name = "Event trees"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from eventtree import checks  # noqa: F401  (registers the system checks)
        from eventtree import signal_handlers
        from eventtree.actions import control, messages, records
        from eventtree.actions.registry import registry
        from eventtree.models import EventTree

        for action_class in (
            records.SetField,
            records.CreateRecord,
            messages.SendEmail,
            control.SetFlag,
            control.ProgressAction,
            control.Log,
            control.Fail,
        ):
            registry.register(action_class)

        post_save.connect(signal_handlers.forget_active_trees, sender=EventTree)
        post_delete.connect(signal_handlers.forget_active_trees, sender=EventTree)
        post_migrate.connect(signal_handlers.ensure_sweeper, sender=self)
