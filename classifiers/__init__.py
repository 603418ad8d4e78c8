"""Classifiers: decide which label ids apply to columns and datasets."""
