"""Which hub checkpoints changed: the registry, the watch rules, the last revisions seen and what the
hub answers now, turned into new checkpoint partitions and revisions to fetch. Pure logic: no
Dagster, no network (the sensor and the schedule in sensors.py ask the hub and wire the answers).

Checkpoint keys of models found by a watch rule (not in HUB_CHECKPOINTS) are the repo id with
`/` written `--`, the hub cache's own folder naming: `facebook/nllb-200-3.3B` -> `facebook--nllb-200-3.3B`.
The hub forbids `--` and `..` in repo ids, so the key maps back to exactly one repo; catalog keys
never contain `--`, so the two kinds cannot collide; and the key is a valid Dagster partition key
(none of `...`, `|`, `,` or control characters) and a valid folder name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from xrep_assets.errors import XrepError
from xrep_assets.study import HUB_CHECKPOINTS, HUB_WATCH_RULES, CatalogError, Family, HubCheckpoint, HubWatchRule

# The run tag that carries the commit a checkpoint run must fetch (set by the sensor and the schedule).
HUB_REVISION_TAG = "xrep/hub_revision"
HUB_REPO_TAG = "xrep/hub_repo"

DISCOVERED_SEPARATOR = "--"
# A hub repo id: `author/name`, letters, digits, `-`, `_`, `.`, no `--` or `..` (the hub's own rules).
_REPO_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?"
REPO_ID = re.compile(rf"{_REPO_PART}/{_REPO_PART}")
COMMIT = re.compile(r"[0-9a-f]{40}")

# The `model_type` (config.json) and tags the hub gives each architecture family of the catalog.
HF_MODEL_TYPES: dict[Family, frozenset[str]] = {
    "bert": frozenset({"bert"}),
    "xlm-roberta": frozenset({"xlm-roberta"}),
    "gpt2": frozenset({"gpt2"}),
    "bart": frozenset({"bart"}),
    "mbart": frozenset({"mbart"}),
    "m2m100": frozenset({"m2m_100"}),
    "marian": frozenset({"marian"}),
}


class HubWatchError(XrepError):
    """A repo id, checkpoint key or sensor cursor the hub watch cannot use."""


@dataclass(frozen=True)
class ListedModel:
    """One model of a hub listing: its repo, head commit, and what it says its architecture is."""

    repo_id: str
    sha: str
    model_type: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class RevisionChange:
    key: str  # checkpoint partition key
    repo_id: str
    previous: str | None  # the revision seen before (None: a newly discovered model)
    revision: str  # the commit to fetch now


@dataclass(frozen=True)
class HubChanges:
    cursor: dict[str, str]  # repo id -> last commit seen, after this evaluation
    new_keys: tuple[str, ...]  # checkpoint partitions to add
    changes: tuple[RevisionChange, ...]  # checkpoints to fetch at a new revision (new keys included)


# --------------------------------------------------------------------------------------------------
# Keys


def is_valid_repo_id(repo_id: str) -> bool:
    return REPO_ID.fullmatch(repo_id) is not None and "--" not in repo_id and ".." not in repo_id


def is_commit(revision: str | None) -> bool:
    return revision is not None and COMMIT.fullmatch(revision) is not None


def discovered_key(repo_id: str) -> str:
    """`facebook/nllb-200-3.3B` -> `facebook--nllb-200-3.3B` (see the module docstring)."""
    if not is_valid_repo_id(repo_id):
        raise HubWatchError(f"{repo_id!r} is not a hub repo id (author/name of letters, digits, '-', '_', '.')")
    return repo_id.replace("/", DISCOVERED_SEPARATOR, 1)


def is_discovered_key(key: str) -> bool:
    return DISCOVERED_SEPARATOR in key


def repo_id_of_key(key: str) -> str:
    """The repo id behind a checkpoint key: the catalog's entry, or the discovered key read back."""
    if key in HUB_CHECKPOINTS:
        return HUB_CHECKPOINTS[key].repo_id
    repo_id = key.replace(DISCOVERED_SEPARATOR, "/", 1)
    if not is_discovered_key(key) or not is_valid_repo_id(repo_id):
        raise CatalogError(f"checkpoint {key!r} is neither a hub checkpoint of the catalog nor a discovered hub key (author--name)")
    return repo_id


def hub_keys(partitions: Iterable[str], registry: Mapping[str, HubCheckpoint] = HUB_CHECKPOINTS) -> list[str]:
    """The checkpoint keys among `partitions` that name hub models (registry or discovered)."""
    return [
        key for key in partitions
        if key in registry or (is_discovered_key(key) and is_valid_repo_id(key.replace(DISCOVERED_SEPARATOR, "/", 1)))
    ]


def checkpoint_key(repo_id: str, registry: Mapping[str, HubCheckpoint] = HUB_CHECKPOINTS) -> str:
    """The catalog key of a registered repo, else its discovered key."""
    for entry in registry.values():
        if entry.repo_id == repo_id:
            return entry.key
    return discovered_key(repo_id)


def hub_checkpoint(
    key: str, registry: Mapping[str, HubCheckpoint] = HUB_CHECKPOINTS, rules: Sequence[HubWatchRule] = HUB_WATCH_RULES
) -> HubCheckpoint:
    """The registry entry of `key`, or the entry a watch rule gives a discovered key (not pinned:
    the fetch takes the revision the sensor asked for, or the branch head)."""
    if key in registry:
        return registry[key]
    repo_id = repo_id_of_key(key)
    author, name = repo_id.split("/")
    rule = next((r for r in rules if r.author == author and fnmatchcase(name, r.pattern)), None)
    if rule is None:
        raise CatalogError(f"hub checkpoint {key!r} ({repo_id}) matches no watch rule of the catalog")
    return HubCheckpoint(key, repo_id, None, rule.family, rule.role, rule.lang_codes, name, translates=rule.translates)


# --------------------------------------------------------------------------------------------------
# Watch rules


def listing_search(rule: HubWatchRule) -> str:
    """What to ask the hub's model search for: the pattern's literal prefix (`mbart-large-50*` ->
    `mbart-large-50`); the full pattern is matched here."""
    return re.split(r"[*?\[]", rule.pattern, maxsplit=1)[0]


def matching_rule(model: ListedModel, rules: Sequence[HubWatchRule] = HUB_WATCH_RULES) -> HubWatchRule | None:
    """The first rule whose author, name pattern and architecture family the model matches. A model
    that names no architecture (no model_type, no tag) matches none: it could need custom code."""
    if "/" not in model.repo_id:
        return None
    author, name = model.repo_id.split("/", 1)
    architectures = {model.model_type, *model.tags} - {None}
    for rule in rules:
        if rule.author == author and fnmatchcase(name, rule.pattern) and architectures & HF_MODEL_TYPES[rule.family]:
            return rule
    return None


# --------------------------------------------------------------------------------------------------
# Cursor


def read_cursor(cursor: str | None) -> dict[str, str]:
    """The sensor cursor: JSON `{repo_id: last commit seen}`; none yet is an empty map."""
    if not cursor:
        return {}
    try:
        seen = json.loads(cursor)
    except json.JSONDecodeError as error:
        raise HubWatchError(f"hub sensor cursor is not JSON ({error}): {cursor[:200]!r}") from error
    if not isinstance(seen, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in seen.items()):
        raise HubWatchError(f"hub sensor cursor is not a JSON object of repo id -> commit: {cursor[:200]!r}")
    return seen


def write_cursor(seen: Mapping[str, str]) -> str:
    return json.dumps(dict(sorted(seen.items())), separators=(",", ":"))


# --------------------------------------------------------------------------------------------------
# Changes


def hub_changes(
    heads: Mapping[str, str],
    listed: Iterable[ListedModel],
    cursor: Mapping[str, str],
    partitions: Collection[str],
    registry: Mapping[str, HubCheckpoint] = HUB_CHECKPOINTS,
    rules: Sequence[HubWatchRule] = HUB_WATCH_RULES,
) -> HubChanges:
    """What the hub's answers mean for the study.

    `heads`: repo id -> head commit of each registry repo the hub answered for. `listed`: the models
    the watch rules' listings returned. `cursor`: repo id -> commit seen last time. `partitions`: the
    checkpoint partitions that exist.

    - A registry repo changed when its head differs from the commit seen last, or, never seen, from
      its pinned revision. An unpinned repo seen for the first time only sets the baseline (its first
      fetch takes the head anyway). A registry checkpoint without a partition is not in the study:
      its head is recorded, nothing is fetched.
    - A listed model that matches a rule and is not in the registry is discovered when it has no
      partition and was never seen: a new partition, fetched at its head. Seen before, it changed when
      its head moved. With a partition but no cursor entry (a reset cursor), the head is the baseline.
    """
    seen = dict(cursor)
    changes: list[RevisionChange] = []
    new_keys: list[str] = []
    registered = {entry.repo_id: entry for entry in registry.values()}

    for entry in registry.values():
        head = heads.get(entry.repo_id)
        if head is None:  # not asked or not answered: keep what was seen
            continue
        baseline = seen.get(entry.repo_id, entry.revision)
        seen[entry.repo_id] = head
        if baseline is not None and head != baseline and entry.key in partitions:
            changes.append(RevisionChange(entry.key, entry.repo_id, baseline, head))

    for model in sorted(listed, key=lambda m: m.repo_id):
        if model.repo_id in registered or not model.sha or matching_rule(model, rules) is None:
            continue
        if not is_valid_repo_id(model.repo_id):
            continue
        key = discovered_key(model.repo_id)
        previous = seen.get(model.repo_id)
        seen[model.repo_id] = model.sha
        if previous is None and key not in partitions:
            if key not in new_keys:
                new_keys.append(key)
                changes.append(RevisionChange(key, model.repo_id, None, model.sha))
        elif previous is not None and previous != model.sha:
            changes.append(RevisionChange(key, model.repo_id, previous, model.sha))

    return HubChanges(cursor=seen, new_keys=tuple(new_keys), changes=tuple(changes))


def stale_revisions(recorded: Mapping[str, str | None], heads: Mapping[str, str]) -> dict[str, str]:
    """Checkpoint key -> head commit, for each checkpoint whose last fetch recorded another commit.
    Checkpoints never fetched, or fetched from a local folder (no commit recorded), are left out."""
    return {
        key: heads[key]
        for key, revision in sorted(recorded.items())
        if is_commit(revision) and key in heads and heads[key] != revision
    }
