-- The study's published table, reloaded from sql/published_ji2024.csv on every connection that
-- writes (the ? is that file's absolute path, so it works from any current directory).
--
-- Source: Shaoxiong Ji, Timothee Mickus, Vincent Segonne, Alessandro Raganato, Jörg Tiedemann,
-- "An Empirical Study of Multilingual Representations from Language Modeling and Translation"
-- (work-in-progress abstract, University of Helsinki), "Preliminary Results" table, captioned
-- "Average performance on cross-lingual tasks. We use the base architecture for mBERT and XLM-R.
-- mBART scores are derived from the 12-layer encoder." Values are in percent, as printed.
--
-- Row labels map to our checkpoint keys: mBERT -> mbert, XLM-R -> xlmr-base, mBART -> mbart-cc25,
-- NLLB 600M -> nllb-600m, mBART m2o / o2m / m2m -> mbart-50-m2o / -o2m / -m2m. The abstract does not
-- say whether its "mBART" is mBART-cc25 or mBART-50 (the base of the m2o/o2m/m2m models), nor its
-- evaluation protocol; our rows are frozen-encoder probes unless `protocol` says otherwise.
DELETE FROM published_scores;
INSERT INTO published_scores
SELECT checkpoint, label, role, task, value,
       'Ji et al., An Empirical Study of Multilingual Representations from Language Modeling and '
       || 'Translation (work in progress), table "Average performance on cross-lingual tasks"' AS source
FROM read_csv(?, header = true,
              columns = {'checkpoint': 'VARCHAR', 'label': 'VARCHAR', 'role': 'VARCHAR',
                         'task': 'VARCHAR', 'value': 'DOUBLE'});
