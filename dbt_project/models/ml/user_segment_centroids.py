"""Centroids of the behavioural segments: the state that keeps segment ids stable between runs.

Reads its own previous version (if any) and passes it as ``previous`` to pintel.segments.discover_segments,
so a segment that still exists keeps its id. k range, seed, match threshold and the minimum users per segment:
config meta in user_segment_centroids.yml. Too few (or too alike) users to segment: the last good centroids
stay, or the table is empty, and ml_model_status says why (pintel.status.guarded).
"""

from pintel.segments import CENTROID_SCHEMA, discover_segments
from pintel.status import guarded
from pintel.tables import table_exists


def model(dbt, session):
    dbt.config(materialized="table")
    # one call per key: dbt finds meta_get calls by parsing, and not inside arithmetic
    k_min = int(dbt.config.meta_get("k_min"))
    k_max = int(dbt.config.meta_get("k_max"))
    seed = int(dbt.config.meta_get("seed"))
    match_threshold = float(dbt.config.meta_get("match_threshold"))
    min_users_per_segment = int(dbt.config.meta_get("min_users_per_segment"))
    long = dbt.ref("ml_segment_features").df()
    # the table being rebuilt is only swapped in after this function returns
    exists = table_exists(session, dbt.this.schema, dbt.this.identifier)
    previous = session.sql(f"select * from {dbt.this}").df() if exists else None

    def build():
        result = discover_segments(
            long.pivot(index="user_id", columns="feature", values="feature_value"),
            k_range=range(k_min, k_max + 1),
            seed=seed,
            previous=previous if previous is not None and len(previous) else None,
            match_threshold=match_threshold,
            min_users_per_segment=min_users_per_segment,
        )
        return result.centroids.assign(
            k=result.k, silhouette=float(result.criterion[result.k]), window_end=long["window_end"].max()
        )

    return guarded(dbt, session, build, CENTROID_SCHEMA)
