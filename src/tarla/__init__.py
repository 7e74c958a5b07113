"""Tarla: tarlatamab (IMDELLTRA) therapy operations for an oncology infusion centre."""

__version__ = "0.1.0"
