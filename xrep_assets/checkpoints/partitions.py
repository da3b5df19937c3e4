"""Checkpoint partitions: one dynamic partition per checkpoint, shared by trained and hub models."""

import dagster as dg

CHECKPOINTS_PARTITION_NAME = "checkpoints"
checkpoint_partitions = dg.DynamicPartitionsDefinition(name=CHECKPOINTS_PARTITION_NAME)
