"""How GradInversion evaluates its seeds: batched into one computation
(``InversionSettings.batched_seeds``) or on several threads
(``seed_workers``, :mod:`mmext.inversion.seed_workers`), each equal to the
loop over seeds: per-seed terms (each seed's own BN statistics and own
weight gradient), the images after some steps, and a resumed run; the
threads' blocks really run at the same time, on their own copies of the
victim, and give back torch's thread count.

In float64 on a tiny BN classifier, so the paths agree to ~1e-12."""
import dataclasses
import threading

import pytest
import torch
from torch import nn

from mmext.engine.runner.gradinversion_loop import build_settings
from mmext.inversion.attack import InversionSettings, gradient_distance
from mmext.inversion.gradients import batch_gradients
from mmext.inversion.objective import BNStatisticsPrior
from mmext.inversion.seed_workers import build_victims, \
    resolve_seed_workers, run_on_workers, seed_blocks
from mmext.testing.classifiers import tiny_bn_classifier
from mmext.testing.inversion import TIGHT, distinct_seeds, seeded_attacks, \
    take_the_same_steps

pytestmark = pytest.mark.usefixtures('one_torch_thread')


@pytest.mark.parametrize('settings', [
    dict(),
    dict(grad_distance='l2', grad_weight=1e-2),
    dict(grad_weight=0.0),
    dict(bn_weight=0.0),
])
def test_seed_terms_equal_the_loop(settings):
    loop, batched = seeded_attacks(**settings)
    distinct_seeds(loop, batched)
    expected = loop.seed_terms()
    got = batched.seed_terms()
    assert list(got) == list(expected)
    for key in expected:
        assert got[key].shape == (3, )
        torch.testing.assert_close(got[key], expected[key], **TIGHT)
    # And their gradients with respect to the images.
    want = torch.autograd.grad(sum(expected.values()).sum(), loop.images)
    have = torch.autograd.grad(sum(got.values()).sum(), batched.images)
    torch.testing.assert_close(have[0], want[0], **TIGHT)


def test_bn_prior_uses_each_seeds_own_statistics():
    loop, batched = seeded_attacks(grad_weight=0.0)
    images = distinct_seeds(loop, batched)
    model, weight = batched.model, batched.settings.bn_weight
    prior = BNStatisticsPrior(model, batched.settings.first_bn_multiplier)
    own = []
    for seed in images:
        with prior:
            model(seed)
        own.append(weight * prior.loss)
    with prior:
        model(images.flatten(0, 1))  # all seeds pooled into one batch
    pooled = weight * prior.loss
    got = batched.seed_terms()['bn'].detach()
    torch.testing.assert_close(got, torch.stack(own), **TIGHT)
    # The check discriminates: pooled statistics give another value.
    assert (got - pooled).abs().min() > 1e-3 * pooled


def test_gradient_term_uses_each_seeds_own_gradient():
    loop, batched = seeded_attacks(bn_weight=0.0)
    images = distinct_seeds(loop, batched)
    model, labels = batched.model, batched.labels
    distance = gradient_distance(batched.settings.grad_distance)
    own = torch.stack([
        distance(batch_gradients(model, seed, labels), batched.targets)
        for seed in images
    ])
    summed = [
        sum(parts) for parts in zip(*(batch_gradients(model, seed, labels)
                                      for seed in images))
    ]
    got = batched.seed_terms()['gradient'].detach()
    torch.testing.assert_close(got, own, **TIGHT)
    # The check discriminates: the seeds' summed gradient (the gradient
    # of one pooled batch with the summed loss) is another distance.
    pooled = distance(summed, batched.targets)
    assert (got - pooled).abs().min() > 1e-3


def test_steps_equal_the_loop():
    loop, batched = seeded_attacks()
    assert 'group' in take_the_same_steps(loop, batched)
    assert batched.best_loss == pytest.approx(loop.best_loss, rel=1e-9)
    # Only the images are differentiated, in either path.
    assert all(p.grad is None for p in batched.model.parameters())


@pytest.mark.parametrize('first', [True, False])
def test_resume_continues_exactly(first):
    """Resume a batched run from a state saved by either path."""
    _, straight = seeded_attacks()
    for _ in range(6):
        straight.step()
    saver = seeded_attacks()[0 if not first else 1]
    for _ in range(3):
        saver.step()
    state = saver.state_dict()
    assert state['settings']['batched_seeds'] is first
    resumed = seeded_attacks()[1]
    resumed.load_state_dict(state)
    for _ in range(3):
        resumed.step()
    torch.testing.assert_close(resumed.images, straight.images, **TIGHT)
    assert resumed.iteration == straight.iteration == 6


@pytest.mark.parametrize('workers', [1, 2])
def test_non_finite_seed_is_named_and_best_images_kept(workers):
    """Also when the seed's block runs on a second thread."""
    _, batched = seeded_attacks(seed_workers=workers)
    batched.step()
    best = batched.best_images.clone()
    with torch.no_grad():
        batched.images[2, 0, 0, 0, 0] = float('nan')
    with pytest.raises(FloatingPointError, match=r'seed 2.*best_images'):
        batched.step()
    assert torch.equal(batched.best_images, best)
    assert torch.get_num_threads() == 1  # the threads' share is given back


def test_mmpretrain_classifier_equals_the_loop():
    """The ``mode='tensor'`` forward of an mmpretrain classifier."""
    from mmpretrain.models import ImageClassifier

    from mmext.testing.classifiers import resnet18_classifier_cfg
    torch.manual_seed(0)
    model = ImageClassifier(**resnet18_classifier_cfg(4, 5))
    model = model.double().eval()
    loop, batched = seeded_attacks(model)
    for attack in (loop, batched):
        attack.step()
    torch.testing.assert_close(batched.images, loop.images, **TIGHT)


def test_setting_defaults_and_config_field():
    # None: batched when one worker has every seed, looped per thread else.
    assert InversionSettings().batched_seeds is None
    assert InversionSettings().seed_workers is None
    one, two = (seeded_attacks(batched_seeds=None, seed_workers=w)[0]
                for w in (1, 2))
    assert one.batched is True and two.batched is False
    with pytest.raises(ValueError, match=r'attack\.batched_seeds'):
        build_settings(dict(batched_seeds=1))
    settings = build_settings(dict(batched_seeds=False, num_seeds=2))
    assert dataclasses.asdict(settings)['batched_seeds'] is False


def test_frozen_parameters_are_left_out_alike():
    """Only trainable parameters are matched (as ``batch_gradients``)."""
    model = tiny_bn_classifier()
    model[0].weight.requires_grad_(False)
    loop, batched = seeded_attacks(model)
    assert len(batched.targets) == len(list(model.parameters())) - 1
    loop.step()
    batched.step()
    torch.testing.assert_close(batched.images, loop.images, **TIGHT)


def test_benchmark_tool(gi_folder, gi_cfg, tmp_path, capsys):
    """benchmark_gradinversion_restarts.py: one short interleaved run."""
    from mmengine.config import Config

    from mmext.apis import init_model
    from mmext.testing.tools import load_tool
    tool = load_tool('analysis_tools/benchmark_gradinversion_restarts.py')
    cfg = gi_cfg(gi_folder, str(tmp_path / 'work'), attack=dict(noise=0.0))
    torch.manual_seed(0)
    checkpoint = str(tmp_path / 'victim.pth')
    torch.save({'state_dict': init_model(Config(cfg)).state_dict()},
               checkpoint)
    path = str(tmp_path / 'gi.py')
    Config(cfg).dump(path)
    assert tool.main([path, '--checkpoint', checkpoint, '--iterations', '2',
                      '--repeats', '2', '--warmup', '0', '--threads', '2',
                      '--ceiling']) == 0
    out = capsys.readouterr().out
    assert '2 seeds x batch 4 x (3, 16, 16)' in out
    summary = out.splitlines()[-1]
    assert summary.startswith('2 threads (2 seed workers)')
    for ratio in ('batched/loop', 'threads/loop', 'batched-threads/loop',
                  'pooled/loop', 'pooled-threads/loop', 'bound/loop'):
        assert ratio in summary
    assert summary.endswith('(bound: one seed on all images, not the '
                            'attack)')
    # --paths: only those beside the loop.
    assert tool.main([path, '--checkpoint', checkpoint, '--iterations', '1',
                      '--repeats', '1', '--warmup', '0', '--threads', '1',
                      '--paths', 'pooled']) == 0
    summary = capsys.readouterr().out.splitlines()[-1]
    assert 'loop' in summary and 'pooled/loop' in summary
    assert 'batched' not in summary and 'threads/loop' not in summary
    # The ceiling's one seed attacks both seeds' worth of images at once,
    # with their true labels.
    model = init_model(Config.fromfile(path), checkpoint).eval()
    single = tool.first_target(Config.fromfile(path), model)
    pooled = tool.first_target(Config.fromfile(path), model, 2)
    assert pooled.images.shape[0] == 2 * single.images.shape[0]
    assert torch.equal(pooled.images[:4], single.images)
    with pytest.raises(SystemExit):
        tool.parse_args([path, '--checkpoint', checkpoint, '--repeats', '0'])


def _hooks(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) for m in model.modules())


@pytest.mark.parametrize('batched', [True, False])
@pytest.mark.parametrize('workers', [2, 3])
def test_threadstake_the_same_steps_as_one(batched, workers):
    one, many = (seeded_attacks(batched_seeds=batched, seed_workers=w)[0]
                 for w in (1, workers))
    assert many.workers == workers and one.workers == 1
    weights = {k: v.clone() for k, v in many.model.state_dict().items()}
    take_the_same_steps(one, many)
    # The victim and its copies are left as they were: same weights, no
    # hook, no gradient.
    for victim in many.victims:
        assert _hooks(victim.model) == 0
        assert all(p.grad is None for p in victim.model.parameters())
        for key, value in victim.model.state_dict().items():
            assert torch.equal(value, weights[key])
    assert torch.get_num_threads() == 1


def test_blocks_run_at_once_on_their_own_victims_and_share_the_threads():
    model = tiny_bn_classifier()
    victims = build_victims(model, BNStatisticsPrior(model, 7.0), 3)
    assert victims[0].model is model
    assert len({id(v.model) for v in victims}) == 3
    for victim in victims[1:]:
        # Each copy's prior hooks the copy's own BN layers.
        assert victim.bn_prior.first_bn_multiplier == 7.0
        assert all(any(bn is m for m in victim.model.modules())
                   for bn in victim.bn_prior.norms)
    barrier = threading.Barrier(3, timeout=30)
    calls = []

    def work(block, victim):
        barrier.wait()  # broken unless all three blocks run at the same time
        calls.append((threading.get_ident(), torch.get_num_threads()))
        return block, victim

    torch.set_num_threads(6)
    blocks = seed_blocks(5, 3)
    results = run_on_workers(work, blocks, victims)
    assert [block for block, _ in results] == blocks
    assert [victim for _, victim in results] == victims
    assert len({ident for ident, _ in calls}) == 3
    assert {threads for _, threads in calls} == {2}  # 6 threads / 3 blocks
    assert torch.get_num_threads() == 6


def test_one_block_runs_on_the_calling_thread():
    model = tiny_bn_classifier()
    result = run_on_workers(
        lambda block, victim: (threading.get_ident(), block),
        seed_blocks(4, 1), build_victims(model, None, 1))
    assert result == [(threading.get_ident(), range(0, 4))]


@pytest.mark.parametrize('seeds', range(1, 10))
def test_blocks_cover_the_seeds_in_order(seeds):
    for workers in range(1, seeds + 1):
        blocks = seed_blocks(seeds, workers)
        assert len(blocks) == workers
        assert [g for block in blocks for g in block] == list(range(seeds))
        sizes = {len(block) for block in blocks}
        assert max(sizes) - min(sizes) <= 1 and min(sizes) >= 1


def test_default_is_one_thread_per_intra_op_thread_on_a_cpu():
    cpu, gpu = torch.device('cpu'), torch.device('cuda')
    torch.set_num_threads(3)
    assert resolve_seed_workers(None, 8, cpu) == 3
    assert resolve_seed_workers(None, 2, cpu) == 2  # at most one per seed
    assert resolve_seed_workers(None, 8, gpu) == 1
    assert resolve_seed_workers(5, 4, cpu) == 4
    assert resolve_seed_workers(2, 8, gpu) == 2
    assert InversionSettings().seed_workers is None
    torch.set_num_threads(1)
    assert seeded_attacks(seed_workers=None)[0].workers == 1


@pytest.mark.parametrize('value', [0, -2, 1.5, True, '2'])
def test_bad_seed_workers_is_named(value):
    with pytest.raises(ValueError, match=r'attack\.seed_workers'):
        build_settings(dict(seed_workers=value))
    assert dataclasses.asdict(build_settings(
        dict(seed_workers=2)))['seed_workers'] == 2

