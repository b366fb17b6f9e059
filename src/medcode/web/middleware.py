"""Turns a missing or outdated codebook into a clear 503 page instead of a stack trace."""

import logging

from django.shortcuts import render

from medcode.codebook.errors import BookMissing

log = logging.getLogger(__name__)

# What visitors read; the exception (with the server's file path) goes to the log only.
UNAVAILABLE = ("The code sets on this server are not built, or were built by an older medcode. "
               "An administrator needs to run `medcode data build`.")


class CodebookUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, BookMissing):
            log.error("codebook unavailable: %s", exception)
            return render(request, "web/error.html",
                          {"title": "Reference data not available", "message": UNAVAILABLE}, status=503)
        return None
