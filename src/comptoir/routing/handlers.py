"""Routing follows the tickets' events."""
