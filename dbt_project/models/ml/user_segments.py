"""One row per recently active user with its behavioural segment: the nearest stored centroid, which is the
user's cluster of the run that produced user_segment_centroids (pintel.segments.assign_segments). No stored
centroids, or users too alike to place: the last good assignment stays (or none), and ml_model_status says why.
"""

from pintel.segments import SEGMENT_SCHEMA, assign_segments
from pintel.status import guarded


def model(dbt, session):
    dbt.config(materialized="table")
    long = dbt.ref("ml_segment_features").df()
    centroids = dbt.ref("user_segment_centroids").df()

    def build():
        segments = assign_segments(long.pivot(index="user_id", columns="feature", values="feature_value"), centroids)
        return segments.assign(window_start=long["window_start"].min(), window_end=long["window_end"].max())

    return guarded(dbt, session, build, SEGMENT_SCHEMA)
