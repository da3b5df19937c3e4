"""How the stages name assets to each other and to the UI, without importing them (importing an
asset module pulls in torch, and an earlier stage may not import a later one).

The keys: each stage's asset module declares its asset under the same key; tests/test_hub.py checks
they agree. The owners: the teams the UI lists on each asset, spelled once here because one team
owns assets in several stages (tests/test_ui_metadata.py checks every asset has one of them).
"""

import dagster as dg

CHECKPOINT_ASSET = dg.AssetKey("checkpoint")  # checkpoints/assets.py
TASK_SCORES_ASSET = dg.AssetKey("task_scores")  # evaluation/assets.py
# analysis/assets.py's layer_analyses, one key per analysis (analysis/spec.py ANALYSIS_ASSETS)
LAYER_ANALYSES_ASSETS = tuple(dg.AssetKey(name) for name in ("cka_by_layer", "retrieval_by_layer", "weight_spectrum", "probe_by_layer"))

# Who answers for an asset's numbers: the text the models read (corpora, their statistics, the
# tokenizer), the models, and the scores and the study's comparison.
CORPORA_TEAM = "team:corpora"
MODELLING_TEAM = "team:modelling"
EVALUATION_TEAM = "team:evaluation"
TEAMS = (CORPORA_TEAM, MODELLING_TEAM, EVALUATION_TEAM)
