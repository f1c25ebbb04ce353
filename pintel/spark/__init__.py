"""The Spark target: publishing the raw tables to Spark and reading its tables back as Arrow.

The SQL layer is the same dbt project (``PINTEL_DBT_TARGET=spark``; engine-specific SQL lives in dispatched macros,
``dbt_project/macros/spark/``). Raw data keeps one loader: the landing batches are loaded by
:func:`pintel.ingest.landing.load_landing` into the DuckDB ledger as always, and that ledger's ``raw`` tables are
exported to Parquet and registered in Spark (:mod:`pintel.spark.raw`). The ML layer stays Python: it reads marts as
Arrow tables (:func:`pintel.spark.reader.read_arrow`) and calls the same pintel functions.
"""
