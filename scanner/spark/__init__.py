"""Run cardex's heavy work as Apache Spark jobs: ``--engine spark``.

``session`` starts or joins a SparkSession, ``counting`` counts the people of
an audit with Spark, ``audit`` runs a whole audit with that counter, and
``scan`` samples and classifies datasets as Spark tasks. PySpark is imported
only by these modules, so the rest of cardex runs without it.
"""
