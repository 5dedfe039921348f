"""Import paths that moved keep working for one release: each warns with a
DeprecationWarning naming the new path and gives the same object."""
import importlib

import pytest


def moved(old_module: str, name: str):
    """``old_module.name``, which must warn that it moved."""
    module = importlib.import_module(old_module)
    with pytest.warns(DeprecationWarning, match='moved to') as record:
        value = getattr(module, name)
    return value, str(record[0].message)


@pytest.mark.parametrize('name', [
    'measure_layer_latency', 'build_lut', 'median_of_minima',
    'measure_forward_latency', 'measure_network_latency'
])
def test_pruning_timing(name):
    from mmext.pruning.latency import timing
    value, message = moved('mmext.pruning.timing', name)
    assert value is getattr(timing, name)
    assert f'mmext.pruning.latency.{name}' in message


@pytest.mark.parametrize('name', [
    'pruning_hook_index', 'pruning_hook_cfg', 'PRUNING_HOOKS'
])
def test_pruning_from_config(name):
    from mmext.engine.hooks import pruning_config
    value, message = moved('mmext.pruning.from_config', name)
    assert value is getattr(pruning_config, name)
    assert f'mmext.engine.hooks.pruning_config.{name}' in message


def test_pruning_from_config_build_model_is_init_model():
    from mmext.apis import init_model
    value, message = moved('mmext.pruning.from_config', 'build_model')
    assert value is init_model
    assert 'mmext.apis.init_model' in message


def test_pruned_model_builder():
    from mmext.models.pruned_model import build_pruned_model
    from mmext.registry import MODELS
    value, message = moved('mmext.pruning.export', 'build_pruned_model')
    assert value is build_pruned_model
    assert 'mmext.models.pruned_model.build_pruned_model' in message
    assert MODELS.get('PrunedModel') is build_pruned_model


@pytest.mark.parametrize('module', [
    'mmext.pruning.timing', 'mmext.pruning.from_config',
    'mmext.pruning.export'
])
def test_unknown_names_still_raise(module):
    with pytest.raises(AttributeError, match='no_such_name'):
        getattr(importlib.import_module(module), 'no_such_name')


def test_pruning_runtime_unwrap():
    from mmext.utils.model import unwrap
    value, message = moved('mmext.engine.hooks.pruning_runtime', 'unwrap')
    assert value is unwrap
    assert 'mmext.utils.model.unwrap' in message
