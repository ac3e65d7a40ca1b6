"""Op tags per pipeline stage: concurrency grouping and Kubernetes step-pod sizes.

The `dagster-k8s/config` tag is read only by the k8s executor/run launcher; locally it is inert.
Training gets a larger pod than parsing.
"""

from __future__ import annotations

from typing import Any

STAGE_TAG = "mlops_assets/stage"

POD_RESOURCES: dict[str, dict[str, dict[str, str]]] = {
    "collect": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
    "parse": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}},
    "features": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}},
    "train": {"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"cpu": "4", "memory": "8Gi"}},
    "score": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}},
    "monitor": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}},
    "notify": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}},
}


def stage_tags(stage: str) -> dict[str, Any]:
    if stage not in POD_RESOURCES:
        raise KeyError(f"unknown stage {stage!r}; known: {sorted(POD_RESOURCES)}")
    return {
        STAGE_TAG: stage,
        "dagster-k8s/config": {"container_config": {"resources": POD_RESOURCES[stage]}},
    }
