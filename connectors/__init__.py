"""Connectors: find datasets in a source and sample their rows."""
