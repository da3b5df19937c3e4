"""The XGLUE test sets as every stage sees them, below the stages.

- `layout`: where a task split lies (the official archive's files, the `xglue` script's configs);
- `readers`: the task-file readers, their return types and the two sources (`ArchiveSource`,
  `HubDatasetSource`) behind `TaskSource`;
- `sources`: `DataSource`, the serialisable choice of source, and the profile's (`profile_data_source`);
- `key`: the contamination key (`dedup_key`), the normalisation under which two sentences are one;
- `contamination`: the test sentences of every task, and those that occur in a pretraining text.

The corpora stage decontaminates against them, the evaluation stage scores on them.
"""
