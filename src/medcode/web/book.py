"""The web side's handle on the codebook: one shared read-only Book, reopened after a rebuild."""

from django.conf import settings

from medcode.codebook import open_book


def book():
    return open_book(settings.MEDCODE_CODEBOOK)
