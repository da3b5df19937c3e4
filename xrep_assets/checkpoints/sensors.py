"""Keeps the checkpoint partitions in step with the catalog and the selected profile."""


import dagster as dg

from xrep_assets.checkpoints.partitions import CHECKPOINTS_PARTITION_NAME
from xrep_assets.resources import StudySettings


def missing_checkpoint_partitions(instance: dg.DagsterInstance, wanted: tuple[str, ...]) -> list[str]:
    existing = set(instance.get_dynamic_partitions(CHECKPOINTS_PARTITION_NAME))
    return [key for key in wanted if key not in existing]


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def catalog_checkpoints_sensor(context: dg.SensorEvaluationContext, study: StudySettings) -> dg.SensorResult | dg.SkipReason:
    """Adds a checkpoint partition for each checkpoint of the profile, so the UI can materialize it."""
    missing = missing_checkpoint_partitions(context.instance, study.resolved().checkpoints)
    if not missing:
        return dg.SkipReason("every checkpoint of the profile has its partition")
    return dg.SensorResult(dynamic_partitions_requests=[dg.AddDynamicPartitionsRequest(CHECKPOINTS_PARTITION_NAME, missing)])
