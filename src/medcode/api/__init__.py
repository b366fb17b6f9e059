"""JSON API v1 (django-ninja): a thin adapter over the codebook, metered like the code pages."""
