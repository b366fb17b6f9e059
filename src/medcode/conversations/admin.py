from django.contrib import admin

from .models import Conversation, Exchange


class ExchangeInline(admin.TabularInline):
    model = Exchange
    extra = 0
    fields = ("created", "date_of_service", "question", "intent", "model")
    readonly_fields = fields
    can_delete = False
    show_change_link = False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("title", "owner", "user", "updated")
    search_fields = ("title", "user__email")
    readonly_fields = ("id", "owner", "user", "title", "created", "updated")
    inlines = [ExchangeInline]
