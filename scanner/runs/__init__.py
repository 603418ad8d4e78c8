"""Scheduled runs: one configuration file, one run over all its sources.

``config`` reads and checks ``cardex.yaml``, ``lock`` keeps two runs from
overlapping, ``runner`` performs the run and ``result`` describes its outcome
and exit code. ``changes`` compares the catalog's labels before and after,
``store`` keeps run records in the catalog database, ``push`` hands labels
to the catalog writers, and ``outputs`` writes the files that ``metrics``
and ``summary`` render. ``logs`` formats JSON log lines and ``cli`` defines
the ``cardex run`` and ``cardex runs`` commands.
"""
