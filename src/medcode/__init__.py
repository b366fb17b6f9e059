"""medcode: an open medical-coding reference grounded in the official code sets."""

__version__ = "0.1.0"
