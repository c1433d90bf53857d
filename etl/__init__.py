"""hssk-etl: files in, one electronic health record (HSSK) per citizen out."""

__version__ = "0.1.0"
