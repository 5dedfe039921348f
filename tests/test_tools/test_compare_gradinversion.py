"""tools/analysis_tools/compare_gradinversion.py without breaching.

The peer (requirements/peers.txt) is never imported here: what the tool
hands to breaching is checked against mmext and an independent
``torch.autograd.grad``, breaching's attack itself is replaced by a stand-in
that records what it receives, and the mmext methods run for real on the
tiny Shapes set with a ResNet-18 of width 4."""
import copy
import json
import os.path as osp
import sys
import types

import pytest
import torch
import torch.nn.functional as F

from mmext.apis.inference import build_test_dataset, init_model, load_config
from mmext.inversion import (dataset_labels, dataset_target,
                             draw_target_batches, psnr, ssim)
from mmext.inversion.targets import pixel_mean_std, unit_images
from mmext.testing.tools import REPO, load_tool, markdown_table_rows

CONFIG = osp.join(
    REPO, 'configs/gradinversion/'
    'gradinversion_resnet18-w32_b8-600it_shapes-64px.py')
# breaching's config/attack/seethroughgradients.yaml (0.1.2), as plain dicts.
SEETHROUGHGRADIENTS = dict(
    type='see-through-gradients',
    attack_type='optimization',
    label_strategy='yin',
    objective=dict(type='euclidean', scale=1e-4, task_regularization=0.0),
    restarts=dict(num_trials=1, scoring='euclidean'),
    init='randn',
    normalize_gradients=False,
    optim=dict(optimizer='adam', signed=False, step_size=0.1, boxed=True,
               max_iterations=20000, step_size_decay='cosine-decay',
               langevin_noise=0.01, warmup=50, grad_clip=None,
               callback=1000),
    regularization=dict(
        total_variation=dict(scale=1e-4, inner_exp=1, outer_exp=1),
        norm=dict(scale=1e-6, pnorm=2),
        deep_inversion=dict(scale=0.1)))


@pytest.fixture(scope='module')
def tool():
    return load_tool('analysis_tools/compare_gradinversion.py')


@pytest.fixture(scope='module')
def victim(shapes_tiny, tmp_path_factory):
    """The GradInversion config on the tiny Shapes set (32-px crops) with a
    width-4 ResNet-18 and random weights saved as a checkpoint."""
    options = [
        f'test_dataloader.dataset.data_root={shapes_tiny}/',
        'model.backbone.stem_channels=4', 'model.backbone.base_channels=4',
        'model.head.in_channels=32'
    ]
    overrides = dict(o.split('=', 1) for o in options)
    overrides = {k: int(v) if v.isdigit() else v
                 for k, v in overrides.items()}
    cfg = load_config(CONFIG, overrides)
    torch.manual_seed(0)
    model = init_model(cfg)
    checkpoint = str(tmp_path_factory.mktemp('victim') / 'victim.pth')
    torch.save(dict(state_dict=model.state_dict()), checkpoint)
    model = init_model(cfg, checkpoint)
    return types.SimpleNamespace(
        cfg=cfg, options=options, checkpoint=checkpoint, model=model,
        dataset=build_test_dataset(cfg))


def _target(tool, victim, batch_size=4):
    indices = tool.draw_batches(victim.cfg, victim.dataset, 1,
                                batch_size)[0]
    return dataset_target(victim.model, victim.dataset, indices,
                          'recovered', with_features=False)


def test_logits_model_is_the_classifier(tool, victim):
    target = _target(tool, victim)
    wrapper = tool.LogitsModel(victim.model)
    with torch.no_grad():
        assert torch.equal(wrapper(target.images),
                           victim.model(target.images, mode='tensor'))
    # The same tensors, in the same order: gradients line up.
    assert [id(p) for p in wrapper.parameters()] == \
        [id(p) for p in victim.model.parameters()]
    assert [id(b) for b in wrapper.buffers()] == \
        [id(b) for b in victim.model.buffers()]


def test_breaching_payload_carries_the_true_gradient(tool, victim):
    target = _target(tool, victim)
    mean, std = pixel_mean_std(victim.model)
    wrapper, payload, shared = tool.breaching_case(victim.model, target,
                                                   mean, std)
    # An independent gradient of the batch's mean cross-entropy.
    loss = F.cross_entropy(wrapper(target.images), target.true_labels)
    independent = torch.autograd.grad(loss, list(wrapper.parameters()))
    gradients = shared[0]['gradients']
    assert len(gradients) == len(independent) == len(target.gradients)
    for given, mmext_grad, reference in zip(gradients, target.gradients,
                                            independent):
        assert torch.equal(given, mmext_grad)
        assert given.data_ptr() != mmext_grad.data_ptr()  # a copy
        torch.testing.assert_close(given, reference, rtol=1e-5, atol=1e-7)
    meta = shared[0]['metadata']
    assert meta['num_data_points'] == 4 and meta['labels'] is None
    data_meta = payload[0]['metadata']
    assert data_meta.shape == [3, 32, 32] and data_meta.modality == 'vision'
    assert data_meta.mean == pytest.approx(
        [123.675 / 255, 116.28 / 255, 103.53 / 255])
    # breaching's copy of the server's model: parameters and buffers
    # loaded by position into a deep copy, in eval mode; same logits.
    copied = copy.deepcopy(wrapper)
    with torch.no_grad():
        for tensor in list(copied.parameters()) + list(copied.buffers()):
            tensor.zero_()
        for param, value in zip(copied.parameters(), payload[0]['parameters']):
            param.copy_(value)
        for buffer, value in zip(copied.buffers(), payload[0]['buffers']):
            buffer.copy_(value)
        assert torch.equal(copied.eval()(target.images),
                           wrapper(target.images))
    # breaching reads the labels from the last two gradients.
    assert gradients[-2].shape == (8, 32) and gradients[-1].shape == (8, )


def test_frozen_parameters_are_refused(tool, victim):
    model = copy.deepcopy(victim.model)
    next(model.parameters()).requires_grad_(False)
    with pytest.raises(ValueError, match='frozen parameters'):
        tool.check_parameter_layout(model)


def test_score_batch_pairs_then_scores(tool, victim):
    target = _target(tool, victim)
    mean, std = pixel_mean_std(victim.model)
    torch.manual_seed(0)
    noisy = target.images + 0.3 * torch.randn_like(target.images)
    shuffled = noisy[[2, 0, 3, 1]]
    scores = tool.score_batch(shuffled, target.images, mean, std)
    truth = unit_images(target.images, mean, std)
    expected = unit_images(noisy, mean, std)
    assert torch.equal(scores['pixels'], expected)
    assert scores['psnr'] == psnr(expected, truth).tolist()
    assert scores['ssim'] == ssim(expected, truth).tolist()
    assert scores['psnr_mean'] == pytest.approx(sum(scores['psnr']) / 4)
    assert tool.label_accuracy([0, 1, 1, 2], [1, 2, 1, 1]) == 75.0


def test_settings(tool):
    settings, mapping = tool.matched_settings(SEETHROUGHGRADIENTS, 200, 3)
    assert (settings.grad_distance, settings.grad_weight) == ('l2', 1e-4)
    assert (settings.bn_weight, settings.first_bn_multiplier) == (0.1, 10.0)
    assert (settings.tv_weight, settings.l2_weight) == (1e-4, 1e-6)
    assert (settings.lr, settings.warmup, settings.noise) == (0.1, 50, 0.01)
    assert (settings.iterations, settings.num_seeds) == (200, 1)
    assert settings.group_weight == 0.0 and settings.init == 'random'
    assert {m['mmext'] for m in mapping} >= {'tv_weight', 'l2_weight',
                                             'noise', 'lr'}
    odd = copy.deepcopy(SEETHROUGHGRADIENTS)
    odd['regularization']['orthogonality'] = dict(scale=0.1)
    with pytest.raises(ValueError, match='orthogonality'):
        tool.matched_settings(odd, 200, 3)
    full = tool.full_settings(
        dict(iterations=600, group_start=150, group_every=25,
             grad_distance='cosine', num_seeds=4), 300, 2)
    assert (full.iterations, full.num_seeds) == (300, 2)
    assert (full.group_start, full.group_every) == (75, 12)
    assert full.grad_distance == 'cosine'


def test_run_mmext_keeps_the_best_trial(tool, victim):
    target = _target(tool, victim)
    mean, std = pixel_mean_std(victim.model)
    from mmext.inversion import valid_range
    lower, upper = valid_range(mean.tolist(), std.tolist())
    settings, _ = tool.matched_settings(SEETHROUGHGRADIENTS, 2, 3)
    images, info = tool.run_mmext(victim.model, target, settings, lower,
                                  upper, seed=0, trials=3)
    scores = info['trial_scores']
    assert len(scores) == 3 and info['chosen_trial'] == min(
        range(3), key=scores.__getitem__)
    assert tool.gradient_score(victim.model, images, target.labels,
                               target.gradients) == pytest.approx(
                                   min(scores))


def _fake_breaching(received):
    """A stand-in for the breaching package: its config (with the
    overrides applied) and what its attack receives."""

    def get_attack_config(name, overrides=()):
        assert name == 'seethroughgradients'
        cfg = copy.deepcopy(SEETHROUGHGRADIENTS)
        for override in overrides:
            key, value = override.split('=')
            section, field = key.split('.')
            cfg[section][field] = int(value)
        return cfg

    def run_breaching(breaching, wrapper, payload, shared, cfg, seed):
        gradients = shared[0]['gradients']
        received.append(dict(gradients=gradients, cfg=cfg))
        labels = gradients[-2].min(dim=-1)[0].argsort()[:4].sort().values
        shape = payload[0]['metadata'].shape
        return torch.zeros(4, *shape), labels, dict(opt_value=0.0)

    return types.SimpleNamespace(get_attack_config=get_attack_config), \
        run_breaching


def test_every_method_gets_the_same_batches_and_gradients(
        tool, victim, tmp_path, monkeypatch, capsys):
    received = {'breaching': [], 'mmext': [], 'mmext-matched': []}
    fake, fake_run = _fake_breaching(received['breaching'])
    monkeypatch.setattr(tool, 'import_breaching', lambda: fake)
    monkeypatch.setattr(tool, 'run_breaching', fake_run)
    run_mmext = tool.run_mmext

    def recording_run_mmext(model, target, settings, *args, **kwargs):
        name = 'mmext' if settings.grad_distance == 'cosine' else \
            'mmext-matched'
        if settings.iterations == 3:  # not the warm-up
            received[name].append(dict(gradients=target.gradients,
                                       settings=settings))
        return run_mmext(model, target, settings, *args, **kwargs)

    monkeypatch.setattr(tool, 'run_mmext', recording_run_mmext)
    scored = []
    score_batch = tool.score_batch
    monkeypatch.setattr(
        tool, 'score_batch',
        lambda *args: scored.append(args) or score_batch(*args))
    out = str(tmp_path / 'out')
    assert tool.main([
        CONFIG, '--checkpoint', victim.checkpoint, '--batches', '2',
        '--batch-size', '4', '--iterations', '3', '--restarts', '2',
        '--warmup-iterations', '1', '--threads', '1', '--out', out,
        '--cfg-options', *victim.options
    ]) == 0

    # The warm-up (1 iteration on the first batch) aside:
    received['breaching'] = [
        call for call in received['breaching']
        if call['cfg']['optim']['max_iterations'] == 3
    ]
    # The batches the loop draws (the config's sampling and seed), and
    # each batch's gradient, identical for every method.
    batches = draw_target_batches(dataset_labels(victim.dataset), 4, 2,
                                  'distinct_labels', 0)
    for b, indices in enumerate(batches):
        expected = dataset_target(victim.model, victim.dataset, indices,
                                  'recovered', with_features=False)
        for name, calls in received.items():
            assert len(calls) == 2, name
            for given, truth in zip(calls[b]['gradients'],
                                    expected.gradients):
                assert torch.equal(given, truth), name
    # The same budget for all.
    cfg = received['breaching'][0]['cfg']
    assert cfg['optim']['max_iterations'] == 3
    assert cfg['restarts']['num_trials'] == 2
    assert received['mmext'][0]['settings'].num_seeds == 2
    assert received['mmext-matched'][0]['settings'].iterations == 3
    # One scoring for every method and batch.
    assert len(scored) == 6

    with open(osp.join(out, 'compare_gradinversion.json')) as handle:
        report = json.load(handle)
    assert report['methods'] == ['breaching', 'mmext', 'mmext-matched']
    assert [b['indices'] for b in report['batches']] == batches
    for name in report['methods']:
        assert report['summary'][name]['label_accuracy'] == 100.0
        for batch in report['batches']:
            result = batch['methods'][name]
            assert len(result['psnr_per_image']) == 4
            assert result['seconds'] > 0
    assert report['settings']['mmext-matched']['grad_weight'] == 1e-4
    with open(osp.join(out, 'compare_gradinversion.md')) as handle:
        text = handle.read()
    rows = markdown_table_rows(text, '| s / iteration |')
    assert [r[:2] for r in rows] == [
        [str(b), name] for b in ('0', '1', 'mean')
        for name in report['methods']]
    assert 'breaching: 0.5 sum \\|\\|g - g*\\|\\|^2' in text
    assert osp.getsize(osp.join(out, 'compare_gradinversion.png')) > 0
    assert 'batch 2/2 done' in capsys.readouterr().out


def test_without_breaching(tool, victim, tmp_path, monkeypatch, capsys):
    # An import of a None entry in sys.modules raises ImportError.
    monkeypatch.setitem(sys.modules, 'breaching', None)
    with pytest.raises(tool.PeerMissingError,
                       match='pip install -r requirements/peers.txt'):
        tool.import_breaching()
    out = str(tmp_path / 'out')
    args = [
        CONFIG, '--checkpoint', victim.checkpoint, '--batches', '1',
        '--batch-size', '4', '--iterations', '2', '--restarts', '1',
        '--warmup-iterations', '0', '--threads', '1', '--out', out,
        '--cfg-options', *victim.options
    ]
    assert tool.main(args) == 1
    err = capsys.readouterr().err
    assert 'breaching' in err and 'pip install -r requirements/peers.txt' \
        in err
    assert not osp.exists(out)
    # mmext alone needs no peer.
    assert tool.main(args + ['--methods', 'mmext']) == 0
    with open(osp.join(out, 'compare_gradinversion.json')) as handle:
        assert json.load(handle)['methods'] == ['mmext']


def test_peers_requirement_names_breaching(tool):
    with open(osp.join(REPO, 'requirements', 'peers.txt')) as handle:
        lines = [line.split('#')[0].strip() for line in handle]
    assert [line for line in lines if line] == ['breaching==0.1.2']
    assert 'requirements/peers.txt' in tool.PEERS_HINT
