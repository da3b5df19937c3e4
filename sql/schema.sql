-- xrep warehouse schema (DuckDB). Idempotent: run on every connection that writes.
-- A warehouse written by another version of this file is refused (see schema_info); the
-- `warehouse_rebuild_job` recreates every table from the catalog and the per-partition score files.

CREATE TABLE IF NOT EXISTS schema_info (
    schema_hash  VARCHAR NOT NULL      -- sha256 of this file without comments and blank space
);

-- The study's checkpoints, from the catalog (xrep_assets/study.py, via warehouse/catalog_tables.py).
CREATE TABLE IF NOT EXISTS checkpoints (
    checkpoint     VARCHAR PRIMARY KEY,  -- partition key of the checkpoint asset
    label          VARCHAR NOT NULL,     -- row label in the comparison (as in the study's table)
    role           VARCHAR NOT NULL,     -- LM, MT or CP (an LM continued on MT)
    family         VARCHAR NOT NULL,     -- architecture family (bert, gpt2, mbart, ...)
    source         VARCHAR NOT NULL,     -- trained (by xrep), continued (a hub LM trained further) or hub
    repo_id        VARCHAR,              -- hub repository (of the initial weights for `continued`)
    revision       VARCHAR,              -- the catalog's hub revision; NULL when xrep trains it
                                         -- (scores.revision then holds the weights' digest, sha256:…;
                                         -- runs has the training run, kind 'pretraining')
    base           VARCHAR,              -- the LM `mt_vs_lm` compares it with; NULL for LMs
    base_relation  VARCHAR,              -- 'initialised from' or 'LM counterpart' (trained from scratch)
    position       INTEGER NOT NULL      -- row order within a role, as in the study's table
);

-- The 8 XGLUE tasks in the study's column order.
CREATE TABLE IF NOT EXISTS tasks (
    task      VARCHAR PRIMARY KEY,
    name      VARCHAR NOT NULL,
    position  INTEGER NOT NULL,
    metric    VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS languages (
    language     VARCHAR PRIMARY KEY,  -- ISO 639-1, as XGLUE names its files
    name         VARCHAR NOT NULL,
    script       VARCHAR NOT NULL,
    pretraining  BOOLEAN NOT NULL      -- one of the six languages the study pretrains on
);

-- The languages each task is evaluated on, English first (the catalog's order).
CREATE TABLE IF NOT EXISTS task_languages (
    task      VARCHAR NOT NULL,
    language  VARCHAR NOT NULL,
    position  INTEGER NOT NULL,
    PRIMARY KEY (task, language)
);

-- One row per checkpoint x task x language x split x seed x protocol x layer, and metric: a task
-- records its catalog metric and may add secondary ones (POS: token_accuracy beside xglue_pos).
-- Written one score partition (checkpoint x task) at a time, its rows replaced in one transaction.
CREATE TABLE IF NOT EXISTS scores (
    checkpoint  VARCHAR NOT NULL,
    revision    VARCHAR NOT NULL,      -- hub commit, or sha256:… of a trained checkpoint's files
    task        VARCHAR NOT NULL,
    language    VARCHAR NOT NULL,
    split       VARCHAR NOT NULL,
    metric      VARCHAR NOT NULL,
    value       DOUBLE  NOT NULL,      -- a fraction in [0, 1]
    seed        INTEGER NOT NULL,
    protocol    VARCHAR NOT NULL,      -- how it was trained: probe (frozen encoder), finetune, ...
    layer       INTEGER NOT NULL,      -- -1 = last layer
    n_examples  INTEGER NOT NULL,
    versions    VARCHAR NOT NULL,      -- JSON: library versions, torch threads and CPU instruction set (or GPU)
    run_id      VARCHAR,               -- the Dagster run that scored it (NULL: loaded from files alone)
    PRIMARY KEY (checkpoint, task, language, split, seed, protocol, layer, metric)
);

-- The Dagster runs behind the rows: the scoring run of each score partition and the run that
-- trained each checkpoint xrep trained, with their run config and library versions.
CREATE TABLE IF NOT EXISTS runs (
    run_id      VARCHAR PRIMARY KEY,
    kind        VARCHAR NOT NULL,      -- scoring or pretraining
    checkpoint  VARCHAR NOT NULL,
    task        VARCHAR,               -- NULL for pretraining runs
    job_name    VARCHAR NOT NULL,
    config      VARCHAR NOT NULL,      -- JSON: the run config (resources, ops)
    versions    VARCHAR,               -- JSON: library versions, where the run recorded them
    created_at  TIMESTAMP NOT NULL     -- UTC
);

-- The pretraining corpus the study allocated (artifacts/corpora/study), per corpus, pair, split and
-- side; written whole by the corpus_statistics asset.
CREATE TABLE IF NOT EXISTS corpus_statistics (
    corpus      VARCHAR NOT NULL,
    pair        VARCHAR NOT NULL,      -- e.g. ar-en
    split       VARCHAR NOT NULL,      -- train or validation
    language    VARCHAR NOT NULL,      -- one side of the pair
    sentences   BIGINT  NOT NULL,
    words       BIGINT  NOT NULL,      -- whitespace tokens; characters for zh (written without spaces)
    characters  BIGINT  NOT NULL,
    PRIMARY KEY (corpus, pair, split, language)
);

-- The study's published numbers (sql/published.sql loads them from sql/published_ji2024.csv).
CREATE TABLE IF NOT EXISTS published_scores (
    checkpoint  VARCHAR NOT NULL,      -- our key for the study's row
    label       VARCHAR NOT NULL,      -- the row label in the study's table
    role        VARCHAR NOT NULL,
    task        VARCHAR NOT NULL,
    value       DOUBLE  NOT NULL,      -- percent, as published
    source      VARCHAR NOT NULL,
    PRIMARY KEY (checkpoint, task)
);

-- The layer-wise analyses of each checkpoint (analysis/ ; one file per checkpoint and analysis in the
-- artifact store), layer 0 the embeddings. `dataset`: pud (the PUD treebanks' 1,000 sentences) or
-- held-out/<pair> (validation bitext of the study corpus). Written one checkpoint at a time.
CREATE TABLE IF NOT EXISTS cka_by_layer (
    checkpoint  VARCHAR NOT NULL,
    revision    VARCHAR,
    dataset     VARCHAR NOT NULL,
    language    VARCHAR NOT NULL,
    reference   VARCHAR NOT NULL,      -- the language compared with (en)
    layer       INTEGER NOT NULL,
    cka         DOUBLE,                -- linear CKA of the two languages' sentence vectors; NULL if one is constant
    sentences   INTEGER NOT NULL,
    PRIMARY KEY (checkpoint, dataset, language, reference, layer)
);

CREATE TABLE IF NOT EXISTS retrieval_by_layer (
    checkpoint  VARCHAR NOT NULL,
    revision    VARCHAR,
    dataset     VARCHAR NOT NULL,
    source      VARCHAR NOT NULL,      -- the language whose sentences look for their translation
    target      VARCHAR NOT NULL,
    layer       INTEGER NOT NULL,
    accuracy    DOUBLE  NOT NULL,      -- share whose cosine nearest neighbour is the translation
    sentences   INTEGER NOT NULL,
    PRIMARY KEY (checkpoint, dataset, source, target, layer)
);

CREATE TABLE IF NOT EXISTS weight_spectrum (
    checkpoint          VARCHAR NOT NULL,
    revision            VARCHAR,
    layer               INTEGER NOT NULL,
    matrix              VARCHAR NOT NULL,  -- the parameter's name in the encoder stack
    rows                INTEGER NOT NULL,
    cols                INTEGER NOT NULL,
    effective_rank      DOUBLE  NOT NULL,  -- exp(entropy of the normalised singular values)
    top_singular_value  DOUBLE  NOT NULL,
    singular_values     DOUBLE[] NOT NULL, -- descending
    PRIMARY KEY (checkpoint, matrix)
);

-- The layer-wise probe (probe_by_layer): the scorer's frozen-encoder protocol trained on each layer's
-- features of one task; one row per test language, metric, layer and seed, like `scores`.
CREATE TABLE IF NOT EXISTS probe_by_layer (
    checkpoint  VARCHAR NOT NULL,
    revision    VARCHAR,
    task        VARCHAR NOT NULL,
    protocol    VARCHAR NOT NULL,      -- probe or linear
    language    VARCHAR NOT NULL,
    layer       INTEGER NOT NULL,      -- 0 = embeddings
    metric      VARCHAR NOT NULL,
    value       DOUBLE  NOT NULL,      -- a fraction in [0, 1]
    seed        INTEGER NOT NULL,
    n_examples  INTEGER NOT NULL,
    PRIMARY KEY (checkpoint, task, protocol, language, layer, metric, seed)
);
