"""Centroids of the behavioural segments: the state that keeps segment ids stable between runs.

Reads its own previous version (if any) and passes it as ``previous`` to pintel.ml.segments.discover_segments,
so a segment that still exists keeps its id. See user_segment_centroids.yml.
"""

import duckdb

from pintel.ml.segments import discover_segments


def model(dbt, session):
    dbt.config(materialized="table")
    long = dbt.ref("ml_segment_features").df()
    try:  # the table being rebuilt is only swapped in after this function returns
        previous = session.sql(f"select * from {dbt.this}").df()
    except duckdb.CatalogException:
        previous = None
    result = discover_segments(
        long.pivot(index="user_id", columns="feature", values="feature_value"),
        k_range=range(3, 9),
        seed=0,
        previous=previous if previous is not None and len(previous) else None,
    )
    return result.centroids.assign(
        k=result.k, silhouette=float(result.criterion[result.k]), window_end=long["window_end"].max()
    )
