"""Processes that Dagster launches (a local subprocess in `tiny`, a pod in `paper`) for heavy steps."""
