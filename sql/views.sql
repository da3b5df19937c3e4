-- The study's comparison, derived from `scores`. Averaging order, stated once:
--   1. mean over seeds            -> scores_per_language (with the std over seeds)
--   2. mean over the task's languages, English included -> task_averages
--   3. mean over the 8 tasks      -> the Average column (NULL until all 8 tasks are scored)
-- Only the test split enters the comparison; values are shown in percent.

CREATE OR REPLACE VIEW scores_per_language AS
SELECT checkpoint, task, language, protocol, layer, metric,
       avg(value)          AS value,
       stddev_samp(value)  AS std,
       count(*)            AS seeds
FROM scores
WHERE split = 'test'
GROUP BY checkpoint, task, language, protocol, layer, metric;

CREATE OR REPLACE VIEW task_averages AS
SELECT checkpoint, task, protocol, layer,
       avg(value)   AS value,
       count(*)     AS languages
FROM scores_per_language
GROUP BY checkpoint, task, protocol, layer;

CREATE OR REPLACE VIEW comparison AS
SELECT c.role                                                     AS "Role",
       coalesce(c.label, a.checkpoint)                             AS "Checkpoint",
       a.protocol                                                 AS "Protocol",
       round(100 * avg(a.value) FILTER (WHERE a.task = 'NC'), 1)     AS "NC",
       round(100 * avg(a.value) FILTER (WHERE a.task = 'XNLI'), 1)   AS "XNLI",
       round(100 * avg(a.value) FILTER (WHERE a.task = 'PAWS-X'), 1) AS "PAWS-X",
       round(100 * avg(a.value) FILTER (WHERE a.task = 'QAM'), 1)    AS "QAM",
       round(100 * avg(a.value) FILTER (WHERE a.task = 'QADSM'), 1)  AS "QADSM",
       round(100 * avg(a.value) FILTER (WHERE a.task = 'WPR'), 1)    AS "WPR",
       round(100 * avg(a.value) FILTER (WHERE a.task = 'NER'), 1)    AS "NER",
       round(100 * avg(a.value) FILTER (WHERE a.task = 'POS'), 1)    AS "POS",
       CASE WHEN count(DISTINCT a.task) = (SELECT count(*) FROM tasks)
            THEN round(100 * avg(a.value), 1) END                 AS "Average"
FROM task_averages a
LEFT JOIN checkpoints c USING (checkpoint)
WHERE a.layer = -1
GROUP BY c.role, coalesce(c.label, a.checkpoint), a.protocol
ORDER BY CASE c.role WHEN 'LM' THEN 0 WHEN 'MT' THEN 1 WHEN 'CP' THEN 2 ELSE 3 END, "Checkpoint", "Protocol";
