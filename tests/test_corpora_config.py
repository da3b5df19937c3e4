"""The corpora's run config: one field per setting of the pure modules' dataclasses, None keeping
the preset's or the dataclass's value."""

from dataclasses import fields

import pytest

from xrep_assets.corpora.allocation import AllocationParams
from xrep_assets.corpora.assets import AllocationConfig, CleaningConfig
from xrep_assets.corpora.cleaning import CleaningParams


@pytest.mark.parametrize(
    "config, params, own",
    [(CleaningConfig, CleaningParams, {"preset"}), (AllocationConfig, AllocationParams, {"decontaminate"})],
)
def test_every_setting_is_a_config_field(config, params, own):
    assert set(config.model_fields) == {field.name for field in fields(params)} | own


def test_allocation_config_overrides_by_name_and_keeps_the_defaults():
    assert AllocationConfig().params() == AllocationParams()
    assert AllocationConfig(block_size=10, cap_to_smallest=False).params() == AllocationParams(
        block_size=10, cap_to_smallest=False
    )
    assert AllocationConfig(decontaminate=False).params() == AllocationParams()


def test_cleaning_config_overrides_the_preset_by_name():
    assert CleaningConfig().params() == CleaningParams()
    assert CleaningConfig(preset="opusfilter", min_length=3).params() == CleaningParams.opusfilter(min_length=3)
    with pytest.raises(ValueError, match="unknown cleaning preset 'strict'"):
        CleaningConfig(preset="strict").params()
