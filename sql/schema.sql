-- xrep warehouse schema (DuckDB). Idempotent: run on every connection that writes.

-- The study's checkpoints, seeded from the catalog (xrep_assets/study.py).
CREATE TABLE IF NOT EXISTS checkpoints (
    checkpoint  VARCHAR PRIMARY KEY,   -- partition key of the checkpoint asset
    label       VARCHAR NOT NULL,      -- row label in the comparison
    role        VARCHAR NOT NULL,      -- LM, MT or CP (an LM continued on MT)
    family      VARCHAR NOT NULL,      -- architecture family (bert, gpt2, mbart, ...)
    source      VARCHAR NOT NULL,      -- trained (by xrep) or hub
    repo_id     VARCHAR                -- hub repository, NULL for trained checkpoints
);

-- The 8 XGLUE tasks in the study's column order, seeded from the catalog.
CREATE TABLE IF NOT EXISTS tasks (
    task      VARCHAR PRIMARY KEY,
    position  INTEGER NOT NULL,
    metric    VARCHAR NOT NULL
);

-- One row per checkpoint x task x language x split x seed x protocol x layer.
CREATE TABLE IF NOT EXISTS scores (
    checkpoint  VARCHAR NOT NULL,
    revision    VARCHAR NOT NULL,      -- hub commit, or the run id that trained the checkpoint
    task        VARCHAR NOT NULL,
    language    VARCHAR NOT NULL,
    split       VARCHAR NOT NULL,
    metric      VARCHAR NOT NULL,
    value       DOUBLE  NOT NULL,      -- a fraction in [0, 1]
    seed        INTEGER NOT NULL,
    protocol    VARCHAR NOT NULL,      -- probe (frozen encoder) or finetune
    layer       INTEGER NOT NULL,      -- -1 = last layer
    n_examples  INTEGER NOT NULL,
    versions    VARCHAR NOT NULL,      -- JSON: library versions that produced the row
    PRIMARY KEY (checkpoint, task, language, split, seed, protocol, layer)
);
