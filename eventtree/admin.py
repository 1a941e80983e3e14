from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from eventtree.models import (
    Block,
    EventTree,
    Field,
    Flag,
    Form,
    Node,
    OutboxMessage,
    Progress,
    Record,
    Run,
    Step,
    Submission,
)
from eventtree.services.runs import BlockStateError, block_cancel, block_retry


class FieldInline(admin.TabularInline):
    model = Field
    extra = 0
    fields = ["position", "name", "label", "type", "required", "internal", "choices", "default"]


class EventTreeInline(admin.TabularInline):
    model = EventTree
    extra = 0
    fields = ["name", "event", "mode", "active", "max_attempts"]
    show_change_link = True


@admin.register(Form)
class FormAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "login_required", "updated_at"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name", "slug"]
    inlines = [FieldInline, EventTreeInline]


@admin.register(Field)
class FieldAdmin(admin.ModelAdmin):
    list_display = ["name", "form", "type", "required", "internal", "position"]
    list_filter = ["type", "internal", "form"]


class NodeInline(admin.TabularInline):
    model = Node
    extra = 0
    fields = ["parent", "position", "kind", "action", "label", "config"]
    fk_name = "tree"


@admin.register(EventTree)
class EventTreeAdmin(admin.ModelAdmin):
    list_display = ["name", "form", "event", "mode", "active", "max_attempts"]
    list_filter = ["event", "mode", "active", "form"]
    inlines = [NodeInline]


@admin.register(Node)
class NodeAdmin(admin.ModelAdmin):
    list_display = ["__str__", "tree", "kind", "action", "parent", "position"]
    list_filter = ["kind", "action", "tree"]
    raw_id_fields = ["parent"]


@admin.register(Record)
class RecordAdmin(admin.ModelAdmin):
    list_display = ["__str__", "form", "user", "created_at", "updated_at"]
    list_filter = ["form"]
    date_hierarchy = "created_at"


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    list_display = ["pk", "form", "record", "event", "created_at"]
    list_filter = ["form", "event"]
    readonly_fields = ["token"]


class BlockInline(admin.TabularInline):
    model = Block
    extra = 0
    fields = ["label", "state", "attempts", "max_attempts", "due_at", "lease_until", "last_error"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True


class StepInline(admin.TabularInline):
    model = Step
    extra = 0
    fields = ["label", "phase", "attempt", "status", "started_at", "error", "output"]
    readonly_fields = fields
    can_delete = False


class FlagInline(admin.TabularInline):
    model = Flag
    extra = 0


class ProgressInline(admin.TabularInline):
    model = Progress
    extra = 0


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ["pk", "tree", "record", "event", "status", "created_at", "finished_at"]
    list_filter = ["status", "event", "tree__form"]
    inlines = [BlockInline, StepInline, FlagInline, ProgressInline]


@admin.register(Block)
class BlockAdmin(admin.ModelAdmin):
    list_display = ["pk", "label", "run", "state", "attempts", "due_at", "updated_at"]
    list_filter = ["state"]
    actions = ["cancel_blocks", "retry_blocks"]

    @admin.action(description="Cancel selected pending blocks")
    def cancel_blocks(self, request: HttpRequest, queryset: QuerySet[Block]) -> None:
        self.apply(request, queryset, block_cancel, "cancelled")

    @admin.action(description="Retry selected failed blocks")
    def retry_blocks(self, request: HttpRequest, queryset: QuerySet[Block]) -> None:
        self.apply(request, queryset, block_retry, "queued for retry")

    def apply(self, request: HttpRequest, queryset: QuerySet[Block], service, done: str) -> None:
        count = 0
        for block_id in queryset.values_list("pk", flat=True):
            try:
                service(block_id=block_id)
                count += 1
            except BlockStateError as exc:
                self.message_user(request, f"Block {block_id}: {exc}", messages.WARNING)
        if count:
            self.message_user(request, f"{count} block(s) {done}.", messages.SUCCESS)


@admin.register(Step)
class StepAdmin(admin.ModelAdmin):
    list_display = ["label", "run", "phase", "attempt", "status", "started_at"]
    list_filter = ["status", "phase"]


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = ["pk", "kind", "run", "state", "created_at", "sent_at"]
    list_filter = ["kind", "state"]


@admin.register(Flag)
class FlagAdmin(admin.ModelAdmin):
    list_display = ["name", "value", "run", "updated_at"]
    list_filter = ["value"]
    search_fields = ["name"]


@admin.register(Progress)
class ProgressAdmin(admin.ModelAdmin):
    list_display = ["name", "title", "done", "total", "run", "updated_at"]
