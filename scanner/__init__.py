"""cardex: find personal, sensitive and important automotive data and label it."""

__version__ = "0.1.0"
