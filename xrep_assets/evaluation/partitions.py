"""Score partitions: one per checkpoint x task."""

import dagster as dg

from xrep_assets.checkpoints.partitions import checkpoint_partitions
from xrep_assets.study import TASK_KEYS

score_partitions = dg.MultiPartitionsDefinition(
    {"checkpoint": checkpoint_partitions, "task": dg.StaticPartitionsDefinition(list(TASK_KEYS))}
)


def score_key(checkpoint: str, task: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"checkpoint": checkpoint, "task": task})
