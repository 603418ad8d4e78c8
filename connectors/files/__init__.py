"""Read local data files: find datasets and sample their rows.

``FileConnector`` lists datasets; ``sniff_format`` names a file's format from
its first bytes, and is the place to teach the connector a new format.
"""

from connectors.files.connector import FileConnector
from connectors.files.detect import sniff_format

__all__ = ["FileConnector", "sniff_format"]
