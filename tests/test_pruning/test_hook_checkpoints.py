"""The pruning hooks' checkpoint methods on hand-made checkpoints (in the
manner of mmengine's EMAHook tests): what ``before_save_checkpoint``
writes, what ``after_load_checkpoint`` replays, and which records it
refuses."""
import pytest
import torch

from mmext.engine.hooks import EPIHook, HALPHook
from mmext.pruning.record import FORMAT, PruningRecord, PruningStep
from ._models import SHAPE


def halp_hook():
    return HALPHook(0.5, 'unused.json', SHAPE, channel_group_size=2)


def epi_hook():
    return EPIHook(SHAPE, pruned_ratio=0.5, plot=False)


HOOKS = {'halp': halp_hook, 'epi': epi_hook}


def group_sizes(hook_runner):
    """The prunable groups of the runner's model, as a hook traces them."""
    hook = halp_hook()
    hook.before_run(hook_runner)
    return dict(hook.record.group_sizes)


def halve_every_group(sizes):
    """Masks keeping the first half of every group's channels."""
    keep = {}
    for key, size in sizes.items():
        mask = torch.zeros(size, dtype=torch.bool)
        mask[:max(size // 2, 1)] = True
        keep[key] = mask
    return keep


def hand_made(sizes, method=None, halved=False, **extra):
    """A ``checkpoint['pruning']`` entry: one step halving every group when
    ``halved``, ``extra['method'] = method`` unless None."""
    steps = []
    if halved:
        steps.append(
            PruningStep(step=1, iteration=8, target=1.0, latency=0.9,
                        keep=halve_every_group(sizes)))
    if method is not None:
        extra = dict(method=method, **extra)
    return PruningRecord(group_sizes=dict(sizes), dense_latency=2.0,
                         steps=steps, extra=extra).to_dict()


def epi_extra(pruned):
    return dict(
        criterion='magnitude', points=[],
        pruned=dict(iteration=8, epoch=1.0, reason='fixed',
                    pruned_ratio=0.5, latency_ratio=None)
        if pruned else None)


def warnings_of(runner):
    return [call.args[0] for call in runner.logger.warning.call_args_list]


@pytest.mark.parametrize('method', sorted(HOOKS))
def test_before_save_writes_the_tagged_record(method, hook_runner):
    hook = HOOKS[method]()
    checkpoint = {}
    hook.before_save_checkpoint(hook_runner, checkpoint)
    assert checkpoint == {}  # nothing traced yet, nothing to save
    hook.before_run(hook_runner)
    hook.before_save_checkpoint(hook_runner, checkpoint)
    state = checkpoint['pruning']
    assert state['format'] == FORMAT
    assert state['extra']['method'] == method
    assert state['group_sizes'] == group_sizes(hook_runner)
    assert state['steps'] == [] and state['dense_latency'] is None
    assert set(state['saliency']) >= {'count'}
    if method == 'epi':
        assert state['extra'] == dict(method='epi', criterion='magnitude',
                                      points=[], pruned=None)


def test_halp_after_load_replays_the_masks(hook_runner):
    sizes = group_sizes(hook_runner)
    hook = halp_hook()
    hook.after_load_checkpoint(
        hook_runner, {'pruning': hand_made(sizes, 'halp', halved=True)})
    expected = halve_every_group(sizes)
    assert hook.keep.keys() == expected.keys()
    assert all(torch.equal(hook.keep[k], expected[k]) for k in expected)
    assert hook.record.dense_latency == 2.0
    assert [s.iteration for s in hook.record.steps] == [8]
    # the pruned channels of the freshly built model are zero
    model = hook_runner.model
    for group in hook.groups:
        dropped = ~expected[group.key]
        for member in group.norms:
            index = member.module_index[dropped[member.group_index]]
            bn = model.get_submodule(member.name)
            assert index.numel() and torch.all(bn.weight[index] == 0)
    logged = hook_runner.logger.info.call_args.args[0]
    assert logged.startswith('HALPHook: replayed 1 pruning steps')
    assert not warnings_of(hook_runner)


def test_epi_after_load_slims_the_model_to_the_record(hook_runner):
    sizes = group_sizes(hook_runner)
    hook = epi_hook()
    state = hand_made(sizes, 'epi', halved=True, **epi_extra(True))
    hook.after_load_checkpoint(hook_runner, {'pruning': state})
    assert hook.pruned['reason'] == 'fixed'
    for key, size in sizes.items():
        layer = hook_runner.model.get_submodule(key)
        width = getattr(layer, 'out_channels', None) or layer.out_features
        assert width == max(size // 2, 1), key
    assert 'slimmed to its architecture' in \
        hook_runner.logger.info.call_args.args[0]


def test_epi_record_before_the_pruning_keeps_the_model_dense(hook_runner):
    sizes = group_sizes(hook_runner)
    hook = epi_hook()
    state = hand_made(sizes, 'epi', **epi_extra(False))
    sums = {k: torch.full((n, ), 2.0, dtype=torch.float64)
            for k, n in sizes.items()}
    state['saliency'] = dict(sums=sums, count=2)
    hook.after_load_checkpoint(hook_runner, {'pruning': state})
    assert hook.pruned is None
    for key, size in sizes.items():
        layer = hook_runner.model.get_submodule(key)
        assert (getattr(layer, 'out_channels', None)
                or layer.out_features) == size
    average = hook.saliency.average()
    assert all(torch.all(v == 1.0) for v in average.values())


@pytest.mark.parametrize('method, other', [('halp', 'epi'),
                                           ('epi', 'halp')])
def test_a_record_of_the_other_method_is_refused(method, other,
                                                 hook_runner):
    sizes = group_sizes(hook_runner)
    extra = epi_extra(False) if other == 'epi' else {}
    state = hand_made(sizes, other, **extra)
    hook = HOOKS[method]()
    hook_name = {'halp': 'HALPHook', 'epi': 'EPIHook'}
    with pytest.raises(ValueError) as error:
        hook.after_load_checkpoint(hook_runner, {'pruning': state})
    message = str(error.value)
    assert f"pruned by '{other}'" in message
    assert f"not '{method}'" in message
    assert "checkpoint['pruning']['extra']['method']" in message
    assert f'mmext.{hook_name[other]}' in message
    assert 'config it was trained with' in message


@pytest.mark.parametrize('method', sorted(HOOKS))
def test_an_untagged_record_loads_with_a_warning(method, hook_runner):
    sizes = group_sizes(hook_runner)
    extra = epi_extra(False) if method == 'epi' else {}
    state = hand_made(sizes, None, halved=method == 'halp', **extra)
    assert 'method' not in state['extra']
    hook = HOOKS[method]()
    hook.after_load_checkpoint(hook_runner, {'pruning': state})
    (warning, ) = warnings_of(hook_runner)
    assert 'no method tag' in warning and f"as '{method}'" in warning
    # the next checkpoint carries the tag
    checkpoint = {}
    hook.before_save_checkpoint(hook_runner, checkpoint)
    assert checkpoint['pruning']['extra']['method'] == method
    if method == 'halp':
        assert kept(hook.keep) == kept(halve_every_group(sizes))


def kept(keep):
    return {k: int(v.sum()) for k, v in keep.items()}


def test_an_untagged_halp_record_is_refused_by_epi(hook_runner):
    sizes = group_sizes(hook_runner)
    state = hand_made(sizes, None, halved=True)  # HALP before the tag
    with pytest.raises(ValueError, match=r"no EPI history.*HALPHook.*"
                       'config it was trained with'):
        epi_hook().after_load_checkpoint(hook_runner, {'pruning': state})


@pytest.mark.parametrize('method', sorted(HOOKS))
def test_a_record_of_other_groups_is_refused(method, hook_runner):
    sizes = group_sizes(hook_runner)
    key = next(iter(sizes))
    sizes[key] += 8
    extra = epi_extra(False) if method == 'epi' else {}
    state = hand_made(sizes, method, **extra)
    with pytest.raises(ValueError,
                       match=rf'does not fit this model.*{key}.*scope'):
        HOOKS[method]().after_load_checkpoint(hook_runner,
                                              {'pruning': state})


@pytest.mark.parametrize('method', sorted(HOOKS))
def test_a_checkpoint_without_record_changes_nothing(method, hook_runner):
    hook = HOOKS[method]()
    before = {k: v.clone() for k, v in hook_runner.model.state_dict().items()}
    hook.after_load_checkpoint(hook_runner, {'state_dict': {}})
    assert hook.record is None
    after = hook_runner.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_a_hook_without_trigger_or_replay_cannot_be_built():
    from mmext.engine.hooks.pruning_hook import BasePruningHook

    class NoReplay(BasePruningHook):
        method = 'demo'

        def _accumulates(self) -> bool:
            return True

    with pytest.raises(TypeError, match='_replay'):
        NoReplay(input_shape=(3, 8, 8), criterion='magnitude')
