"""A/B tests (seed 004 §5, issue 12 §4): experiments declared once in code
(`registry.EXPERIMENTS`), deterministic assignment by hash (`assignment.assign`), and
exposure events on `experiments.exposures` (`exposures.ExposureLog`).

    from marketplace_core.experiments import assign, arm_label
    arm = assign("explore_ranking_v2", unit)   # None: not in the experiment (or not running)
    label = arm_label("ads_creative_v1", arm)  # "ads_creative_v1:variant_b" for ads.events
"""

from marketplace_core.experiments.assignment import arm_label, assign, bucket_of
from marketplace_core.experiments.registry import (
    EXPERIMENTS,
    Arm,
    Experiment,
    Status,
    UnitKind,
    by_key,
)

__all__ = ["EXPERIMENTS", "Arm", "Experiment", "Status", "UnitKind", "arm_label", "assign",
           "bucket_of", "by_key"]
