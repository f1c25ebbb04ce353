-- The feature catalog (seed), one row per feature; the key feature and the activation event are flagged.
select
    feature_key,
    feature_name,
    category as feature_category,
    event_name,
    is_key_feature,
    is_activation
from {{ ref('feature_catalog') }}
