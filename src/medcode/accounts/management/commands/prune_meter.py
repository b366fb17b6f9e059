"""`medcode manage prune_meter`: delete code-page unlocks that have left the meter's window.

The database meter keeps a row per unlock until it is pruned (an expired row no longer counts
either way); run this daily from cron or the worker. The Redis meter expires entries itself.
"""

from django.core.management.base import BaseCommand

from medcode.accounts import metering


class Command(BaseCommand):
    help = "Delete code-page meter entries older than MEDCODE_METER_WINDOW_DAYS."

    def handle(self, *args, **options):
        n = metering.prune()
        if options["verbosity"]:
            self.stdout.write(f"pruned {n} meter entries older than {metering.window_days()} days")
