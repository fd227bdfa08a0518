"""Comptoir's SQLite backend: Django's, with its writers queued fairly (``base``)."""
