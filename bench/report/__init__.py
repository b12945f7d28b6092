"""Formatters: they return data (text, rich renderables), callers write or print it."""
