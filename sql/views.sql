-- The study's comparisons, derived from `scores`. How they average, stated once:
--   1. per language: the mean over seeds, with the sample std over seeds  -> scores_per_language
--   2. per task: the mean of (1) over the task's languages, English included -> task_averages;
--      its spread is the std over seeds of each seed's mean over the languages (seed_task_averages)
--   3. Average: the mean of (2) over the 8 tasks, NULL until all 8 are scored; its spread is the
--      std over seeds of each seed's mean over the 8 tasks (seed_averages)
-- With every language scored in every seed (what task_scores writes) the mean of the per-seed
-- averages equals the average of (1). A std is NULL with a single seed.
-- Only the test split, each task's catalog metric (tasks.metric: POS enters by xglue_pos, not by
-- its secondary token_accuracy) and the last layer (layer = -1) enter the comparisons; they show percent,
-- rounded to 1 decimal (differences are taken before rounding). Rows: LM, MT, CP, then the
-- catalog's order within a role (the study's table).

CREATE OR REPLACE VIEW scores_per_language AS
SELECT checkpoint, task, language, protocol, layer, metric,
       avg(value)          AS value,
       stddev_samp(value)  AS std,
       count(*)            AS seeds
FROM scores
WHERE split = 'test'
GROUP BY checkpoint, task, language, protocol, layer, metric;

-- The rows the comparisons read: the test split, in each task's catalog metric.
CREATE OR REPLACE VIEW primary_scores AS
SELECT s.*
FROM scores s
JOIN tasks t ON t.task = s.task AND t.metric = s.metric
WHERE s.split = 'test';

CREATE OR REPLACE VIEW seed_task_averages AS
SELECT checkpoint, task, protocol, layer, seed,
       avg(value)  AS value,
       count(*)    AS languages
FROM primary_scores
GROUP BY checkpoint, task, protocol, layer, seed;

CREATE OR REPLACE VIEW task_averages AS
WITH by_language AS (
    SELECT p.checkpoint, p.task, p.protocol, p.layer, avg(p.value) AS value, count(*) AS languages
    FROM scores_per_language p
    JOIN tasks t ON t.task = p.task AND t.metric = p.metric
    GROUP BY p.checkpoint, p.task, p.protocol, p.layer
), by_seed AS (
    SELECT checkpoint, task, protocol, layer, stddev_samp(value) AS std, count(*) AS seeds
    FROM seed_task_averages
    GROUP BY checkpoint, task, protocol, layer
)
SELECT checkpoint, task, protocol, layer, l.value, s.std, l.languages, s.seeds
FROM by_language l JOIN by_seed s USING (checkpoint, task, protocol, layer);

-- Each seed's mean over the tasks it scored; `tasks` says how many (the Average needs all 8).
CREATE OR REPLACE VIEW seed_averages AS
SELECT checkpoint, protocol, layer, seed, avg(value) AS value, count(*) AS tasks
FROM seed_task_averages
GROUP BY checkpoint, protocol, layer, seed;

CREATE OR REPLACE VIEW role_order AS
SELECT * FROM (VALUES ('LM', 0), ('MT', 1), ('CP', 2)) AS r(role, role_position);

-- The study's table: rows = checkpoints by role, columns = the 8 tasks and their average (percent),
-- then the std over seeds of each and the fewest seeds any task has.
CREATE OR REPLACE VIEW comparison AS
WITH t AS (
    SELECT * FROM task_averages WHERE layer = -1
), average_spread AS (
    SELECT checkpoint, protocol, stddev_samp(value) AS std
    FROM seed_averages
    WHERE layer = -1 AND tasks = (SELECT count(*) FROM tasks)
    GROUP BY checkpoint, protocol
)
SELECT c.role                                                                  AS "Role",
       coalesce(c.label, t.checkpoint)                                         AS "Checkpoint",
       t.protocol                                                              AS "Protocol",
       round(100 * any_value(t.value) FILTER (WHERE t.task = 'NC'), 1)         AS "NC",
       round(100 * any_value(t.value) FILTER (WHERE t.task = 'XNLI'), 1)       AS "XNLI",
       round(100 * any_value(t.value) FILTER (WHERE t.task = 'PAWS-X'), 1)     AS "PAWS-X",
       round(100 * any_value(t.value) FILTER (WHERE t.task = 'QAM'), 1)        AS "QAM",
       round(100 * any_value(t.value) FILTER (WHERE t.task = 'QADSM'), 1)      AS "QADSM",
       round(100 * any_value(t.value) FILTER (WHERE t.task = 'WPR'), 1)        AS "WPR",
       round(100 * any_value(t.value) FILTER (WHERE t.task = 'NER'), 1)        AS "NER",
       round(100 * any_value(t.value) FILTER (WHERE t.task = 'POS'), 1)        AS "POS",
       CASE WHEN count(*) = (SELECT count(*) FROM tasks)
            THEN round(100 * avg(t.value), 1) END                              AS "Average",
       round(100 * any_value(t.std) FILTER (WHERE t.task = 'NC'), 1)           AS "NC std",
       round(100 * any_value(t.std) FILTER (WHERE t.task = 'XNLI'), 1)         AS "XNLI std",
       round(100 * any_value(t.std) FILTER (WHERE t.task = 'PAWS-X'), 1)       AS "PAWS-X std",
       round(100 * any_value(t.std) FILTER (WHERE t.task = 'QAM'), 1)          AS "QAM std",
       round(100 * any_value(t.std) FILTER (WHERE t.task = 'QADSM'), 1)        AS "QADSM std",
       round(100 * any_value(t.std) FILTER (WHERE t.task = 'WPR'), 1)          AS "WPR std",
       round(100 * any_value(t.std) FILTER (WHERE t.task = 'NER'), 1)          AS "NER std",
       round(100 * any_value(t.std) FILTER (WHERE t.task = 'POS'), 1)          AS "POS std",
       CASE WHEN count(*) = (SELECT count(*) FROM tasks)
            THEN round(100 * any_value(a.std), 1) END                          AS "Average std",
       min(t.seeds)                                                            AS "Seeds"
FROM t
LEFT JOIN checkpoints c USING (checkpoint)
LEFT JOIN role_order r ON r.role = c.role
LEFT JOIN average_spread a ON a.checkpoint = t.checkpoint AND a.protocol = t.protocol
GROUP BY t.checkpoint, c.role, c.label, c.position, r.role_position, t.protocol
ORDER BY coalesce(r.role_position, 3), c.position, "Checkpoint", "Protocol";

-- The same per language, one row per checkpoint x task x language (languages in the task's
-- catalog order, English first): "Value" is the mean over seeds, "Std" its std over seeds, in the
-- task's catalog metric (scores_per_language has every metric recorded).
CREATE OR REPLACE VIEW comparison_per_language AS
SELECT c.role                        AS "Role",
       coalesce(c.label, p.checkpoint) AS "Checkpoint",
       p.protocol                    AS "Protocol",
       p.task                        AS "Task",
       p.language                    AS "Language",
       l.pretraining                 AS "Pretraining language",
       round(100 * p.value, 1)       AS "Value",
       round(100 * p.std, 1)         AS "Std",
       p.seeds                       AS "Seeds"
FROM scores_per_language p
JOIN tasks t ON t.task = p.task AND t.metric = p.metric
LEFT JOIN checkpoints c USING (checkpoint)
LEFT JOIN role_order r ON r.role = c.role
LEFT JOIN task_languages tl ON tl.task = p.task AND tl.language = p.language
LEFT JOIN languages l ON l.language = p.language
WHERE p.layer = -1
ORDER BY coalesce(r.role_position, 3), c.position, "Checkpoint", "Protocol", t.position, tl.position, "Language";

-- Each MT or CP checkpoint against the LM it comes from (checkpoints.base): per task, the MT
-- checkpoint's task average minus the LM's, in percentage points (negative: MT training costs).
-- "Average" is the mean of the 8 differences (= the difference of the two Averages). Seeds of two
-- checkpoints are not paired, so no spread is given: see `comparison` for each side's std.
CREATE OR REPLACE VIEW mt_vs_lm AS
WITH deltas AS (
    SELECT c.checkpoint, m.protocol, m.task, m.value - l.value AS delta
    FROM checkpoints c
    JOIN task_averages m ON m.checkpoint = c.checkpoint AND m.layer = -1
    JOIN task_averages l ON l.checkpoint = c.base AND l.task = m.task
                        AND l.protocol = m.protocol AND l.layer = -1
)
SELECT c.role                                                             AS "Role",
       c.label                                                            AS "Checkpoint",
       b.label                                                            AS "Base",
       c.base_relation                                                    AS "Relation",
       d.protocol                                                         AS "Protocol",
       round(100 * any_value(d.delta) FILTER (WHERE d.task = 'NC'), 1)     AS "NC",
       round(100 * any_value(d.delta) FILTER (WHERE d.task = 'XNLI'), 1)   AS "XNLI",
       round(100 * any_value(d.delta) FILTER (WHERE d.task = 'PAWS-X'), 1) AS "PAWS-X",
       round(100 * any_value(d.delta) FILTER (WHERE d.task = 'QAM'), 1)    AS "QAM",
       round(100 * any_value(d.delta) FILTER (WHERE d.task = 'QADSM'), 1)  AS "QADSM",
       round(100 * any_value(d.delta) FILTER (WHERE d.task = 'WPR'), 1)    AS "WPR",
       round(100 * any_value(d.delta) FILTER (WHERE d.task = 'NER'), 1)    AS "NER",
       round(100 * any_value(d.delta) FILTER (WHERE d.task = 'POS'), 1)    AS "POS",
       CASE WHEN count(*) = (SELECT count(*) FROM tasks)
            THEN round(100 * avg(d.delta), 1) END                         AS "Average"
FROM deltas d
JOIN checkpoints c USING (checkpoint)
JOIN checkpoints b ON b.checkpoint = c.base
LEFT JOIN role_order r ON r.role = c.role
GROUP BY c.checkpoint, c.role, c.label, c.position, b.label, c.base_relation, r.role_position, d.protocol
ORDER BY coalesce(r.role_position, 3), c.position, "Protocol";

-- The study's published table (sql/published.sql says where it comes from), in percent.
-- "Average" is computed here (mean of the 8 published values); the study's table has none.
CREATE OR REPLACE VIEW published AS
SELECT p.role                                                      AS "Role",
       p.label                                                     AS "Checkpoint",
       any_value(p.value) FILTER (WHERE p.task = 'NC')             AS "NC",
       any_value(p.value) FILTER (WHERE p.task = 'XNLI')           AS "XNLI",
       any_value(p.value) FILTER (WHERE p.task = 'PAWS-X')         AS "PAWS-X",
       any_value(p.value) FILTER (WHERE p.task = 'QAM')            AS "QAM",
       any_value(p.value) FILTER (WHERE p.task = 'QADSM')          AS "QADSM",
       any_value(p.value) FILTER (WHERE p.task = 'WPR')            AS "WPR",
       any_value(p.value) FILTER (WHERE p.task = 'NER')            AS "NER",
       any_value(p.value) FILTER (WHERE p.task = 'POS')            AS "POS",
       round(avg(p.value), 1)                                      AS "Average",
       any_value(p.source)                                         AS "Source"
FROM published_scores p
LEFT JOIN checkpoints c USING (checkpoint)
LEFT JOIN role_order r ON r.role = p.role
GROUP BY p.checkpoint, p.role, p.label, c.position, r.role_position
ORDER BY coalesce(r.role_position, 3), c.position, "Checkpoint";

-- Our task averages against the published ones, one row per checkpoint x protocol x task that both
-- have: "Difference" = ours - published, in percentage points (from our unrounded value).
CREATE OR REPLACE VIEW vs_published AS
SELECT p.role                                     AS "Role",
       p.label                                    AS "Checkpoint",
       t.protocol                                 AS "Protocol",
       p.task                                     AS "Task",
       round(100 * t.value, 1)                    AS "Ours",
       p.value                                    AS "Published",
       round(100 * t.value - p.value, 1)          AS "Difference"
FROM published_scores p
JOIN task_averages t ON t.checkpoint = p.checkpoint AND t.task = p.task AND t.layer = -1
LEFT JOIN checkpoints c ON c.checkpoint = p.checkpoint
LEFT JOIN role_order r ON r.role = p.role
LEFT JOIN tasks k ON k.task = p.task
ORDER BY coalesce(r.role_position, 3), c.position, "Checkpoint", "Protocol", k.position;

-- Layer by layer, how close each language sits to English inside each checkpoint, on each parallel
-- set: linear CKA with English, and retrieval to and from English (and their mean). A measure not
-- materialized for a checkpoint is NULL.
CREATE OR REPLACE VIEW alignment_by_layer AS
WITH with_english AS (
    SELECT checkpoint, dataset, layer,
           CASE WHEN target = 'en' THEN source ELSE target END                 AS language,
           max(accuracy) FILTER (WHERE target = 'en')                          AS retrieval_to_en,
           max(accuracy) FILTER (WHERE source = 'en')                          AS retrieval_from_en
    FROM retrieval_by_layer
    WHERE 'en' IN (source, target)
    GROUP BY checkpoint, dataset, layer, language
)
SELECT checkpoint, dataset, language, layer, c.cka,
       r.retrieval_to_en, r.retrieval_from_en,
       (r.retrieval_to_en + r.retrieval_from_en) / 2 AS retrieval
FROM (SELECT * FROM cka_by_layer WHERE reference = 'en') c
FULL JOIN with_english r USING (checkpoint, dataset, language, layer);

-- Does alignment at a layer predict zero-shot transfer? Per task, protocol, set, layer and measure
-- (cka, retrieval): Spearman's rank correlation (ties get their mean rank) over the (checkpoint,
-- language) pairs, English left out, between the language's alignment with English inside the
-- checkpoint and the checkpoint's zero-shot test score in that language (the task's catalog metric,
-- mean over seeds, last-layer scores). `pairs` and `checkpoints` say what it rests on; with fewer
-- than 3 pairs, or all of one side tied, there is no correlation to speak of (NULL, not NaN).
CREATE OR REPLACE VIEW alignment_vs_transfer AS
WITH transfer AS (
    SELECT p.checkpoint, p.task, p.protocol, p.language, p.value
    FROM scores_per_language p
    JOIN tasks t ON t.task = p.task AND t.metric = p.metric
    WHERE p.layer = -1 AND p.language <> 'en'
), measures AS (
    SELECT checkpoint, dataset, language, layer, 'cka' AS measure, cka AS alignment
    FROM alignment_by_layer WHERE cka IS NOT NULL
    UNION ALL
    SELECT checkpoint, dataset, language, layer, 'retrieval' AS measure, retrieval AS alignment
    FROM alignment_by_layer WHERE retrieval IS NOT NULL
), paired AS (
    SELECT x.task, x.protocol, m.dataset, m.layer, m.measure, m.checkpoint, m.alignment, x.value
    FROM measures m JOIN transfer x USING (checkpoint, language)
), ranked AS (
    SELECT *,
           rank() OVER (PARTITION BY task, protocol, dataset, layer, measure ORDER BY alignment)
             + (count(*) OVER (PARTITION BY task, protocol, dataset, layer, measure, alignment) - 1) / 2.0 AS alignment_rank,
           rank() OVER (PARTITION BY task, protocol, dataset, layer, measure ORDER BY value)
             + (count(*) OVER (PARTITION BY task, protocol, dataset, layer, measure, value) - 1) / 2.0     AS value_rank
    FROM paired
)
SELECT task, protocol, dataset, layer, measure,
       CASE WHEN count(*) >= 3 AND stddev_pop(alignment_rank) > 0 AND stddev_pop(value_rank) > 0
            THEN corr(alignment_rank, value_rank) END AS spearman,
       count(*)                          AS pairs,
       count(DISTINCT checkpoint)        AS checkpoints
FROM ranked
GROUP BY task, protocol, dataset, layer, measure;
