"""The XGLUE test sets as every stage sees them, below the stages.

- `layout`: where a task split lies (the official archive's files, the `xglue` script's configs);
- `readers`: the task-file readers, their return types and the two sources (`ArchiveSource`,
  `HubDatasetSource`) behind `TaskSource`;
- `sources`: `DataSource`, the serialisable choice of source, and the profile's (`profile_data_source`);
- `contamination`: the test sentences of every task, and those that occur in a pretraining text
  (under the contamination key, `text.dedup.dedup_key`).

The corpora stage decontaminates against them, the evaluation stage scores on them.
"""
