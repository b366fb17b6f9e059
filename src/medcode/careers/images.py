"""Employer logos: a real PNG, JPEG, GIF or WebP image (decoded by Pillow, not trusted by name),
within size limits, shrunk to fit LOGO_BOX and re-encoded as PNG. Re-encoding keeps only the
pixels: metadata, trailing bytes and anything smuggled in the original file are dropped."""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_LOGO_BYTES = 2 * 1024 * 1024
MAX_SIDE = 4000
MAX_PIXELS = 16_000_000
LOGO_BOX = (256, 256)
FORMATS = {"PNG", "JPEG", "GIF", "WEBP"}


class ImageRefused(ValueError):
    """The message is for the person who uploaded the image."""


def process_logo(data: bytes) -> bytes:
    """The logo as a PNG of at most LOGO_BOX; raises ImageRefused."""
    if not data:
        raise ImageRefused("The file is empty.")
    if len(data) > MAX_LOGO_BYTES:
        raise ImageRefused(f"The logo is {len(data) / 1048576:.1f} MB; at most {MAX_LOGO_BYTES // 1048576} MB.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                fmt = probe.format
                width, height = probe.size
                if fmt not in FORMATS:
                    raise ImageRefused("Upload the logo as a PNG, JPEG, GIF or WebP image.")
                if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
                    raise ImageRefused(f"The logo is {width}x{height} pixels; at most {MAX_SIDE} on a side.")
                probe.verify()
            with Image.open(io.BytesIO(data)) as img:
                img.seek(0)
                img = ImageOps.exif_transpose(img)
                img = img.convert("RGBA")
                img.thumbnail(LOGO_BOX, Image.Resampling.LANCZOS)
                out = io.BytesIO()
                img.save(out, format="PNG", optimize=True)
    except ImageRefused:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRefused("This file is not an image we can read (PNG, JPEG, GIF or WebP).") from None
    except (OSError, ValueError, SyntaxError, EOFError, TypeError, IndexError, MemoryError):
        raise ImageRefused("This image is damaged or incomplete.") from None
    return out.getvalue()
