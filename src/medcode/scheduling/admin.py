from django.contrib import admin

from .models import PeriodicRun


@admin.register(PeriodicRun)
class PeriodicRunAdmin(admin.ModelAdmin):
    list_display = ("name", "task_path", "every_seconds", "last_enqueued_at", "last_result_id")
    readonly_fields = ("last_enqueued_at", "last_result_id")
