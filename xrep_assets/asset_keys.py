"""The keys of the assets that other modules name without importing them (importing an asset
module pulls in torch, and an earlier stage may not import a later one). Each stage's asset
module declares its asset under the same key; tests/test_hub.py checks they agree."""

import dagster as dg

CHECKPOINT_ASSET = dg.AssetKey("checkpoint")  # checkpoints/assets.py
TASK_SCORES_ASSET = dg.AssetKey("task_scores")  # evaluation/assets.py
