"""Template filters of the code page: a date as the page shows it, computed once per date.

Every date on a code page was written out as ``<time datetime="{{ d|date:'Y-m-d' }}">{{ d }}</time>``:
two lookups and two date formattings per date, on every page built. The dates are few (release and
effective dates), so their markup is remembered.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

from django import template
from django.utils.formats import date_format
from django.utils.html import format_html

register = template.Library()


@lru_cache(maxsize=4096)
def _time(value: date) -> str:
    return format_html('<time datetime="{}">{}</time>', value.isoformat(), date_format(value))


@register.filter(is_safe=True)
def time_tag(value):
    """``<time datetime="2025-10-01">Oct. 1, 2025</time>`` for a date; anything else as it is."""
    if isinstance(value, date):
        return _time(value)
    return value
