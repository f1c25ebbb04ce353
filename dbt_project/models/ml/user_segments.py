"""One row per recently active user with its behavioural segment: the nearest stored centroid, which is the
user's cluster of the run that produced user_segment_centroids (pintel.segments.assign_segments).
"""

from pintel.segments import assign_segments


def model(dbt, session):
    dbt.config(materialized="table")
    long = dbt.ref("ml_segment_features").df()
    segments = assign_segments(
        long.pivot(index="user_id", columns="feature", values="feature_value"), dbt.ref("user_segment_centroids").df()
    )
    return segments.assign(window_start=long["window_start"].min(), window_end=long["window_end"].max())
