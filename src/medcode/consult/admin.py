from django.contrib import admin

from .models import ConsultAddress, Consult, DeliveryAttempt, Draft, Inbound, Outbound


@admin.register(Consult)
class ConsultAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "subject", "created", "updated")
    search_fields = ("user__email", "subject")
    raw_id_fields = ("user",)


@admin.register(Inbound)
class InboundAdmin(admin.ModelAdmin):
    list_display = ("id", "received_at", "sender", "status", "via", "subject", "consult", "counted")
    list_filter = ("status", "via", "secret_address", "counted")
    search_fields = ("sender", "message_id", "subject")
    raw_id_fields = ("user", "consult")
    readonly_fields = ("message_id", "size", "phi_kinds", "attachments", "defects", "in_reply_to", "references",
                       "received_at", "processed_at", "lease_until")


@admin.register(Draft)
class DraftAdmin(admin.ModelAdmin):
    list_display = ("id", "inbound", "decision", "confident", "review_reason", "reviewer_email", "reviewed_at", "edited")
    list_filter = ("decision", "confident", "edited")
    raw_id_fields = ("inbound", "reviewer")
    readonly_fields = ("reviewer", "reviewer_email", "reviewed_at", "markdown", "created")


class AttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    readonly_fields = ("number", "at", "ok", "error")
    can_delete = False


@admin.register(Outbound)
class OutboundAdmin(admin.ModelAdmin):
    list_display = ("id", "created", "kind", "to_address", "status", "attempts", "next_attempt_at", "sent_at")
    list_filter = ("status", "kind")
    search_fields = ("to_address", "message_id", "subject")
    raw_id_fields = ("inbound", "consult")
    readonly_fields = ("message_id", "in_reply_to", "references", "attempts", "sent_at", "last_error", "created")
    inlines = [AttemptInline]


@admin.register(ConsultAddress)
class ConsultAddressAdmin(admin.ModelAdmin):
    list_display = ("user", "created")
    search_fields = ("user__email",)
    raw_id_fields = ("user",)
    readonly_fields = ("token",)
