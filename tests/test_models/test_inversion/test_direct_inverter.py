"""mmext.DirectInverter (zero-shot direct inversion, Dong et al., arXiv
2107.06304) on a tiny ResNet-18 target: the target stays frozen and out of
the module tree, both stages learn, the losses are the documented ones,
the stage follows the runner's iteration, and predict returns pixels."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub
from mmengine.registry import DefaultScope

from mmext.registry import MODELS

SIZE = 32


def build(target: dict, **kwargs):
    cfg = dict(type='mmext.DirectInverter', target=target, split='layer2',
               image_size=(SIZE, SIZE), width=8)
    cfg.update(kwargs)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(cfg)


def total(losses: dict) -> torch.Tensor:
    """What MMEngine optimises: the sum of the ``loss*`` entries."""
    return sum(v for k, v in losses.items() if 'loss' in k)


def normalise(pixels: torch.Tensor) -> torch.Tensor:
    """[0, 1] RGB pixels -> the tiny target's input (mean 127.5, std 64 in
    0-255 units), written out independently of the model."""
    return (pixels * 255 - 127.5) / 64


def by_hand(backbone, x: torch.Tensor):
    """``[u_0, u_1, ...]``: the images and the outputs of the stem and of
    each residual block of layer1 and layer2, run by hand."""
    with torch.no_grad():
        acts = [x, backbone.maxpool(backbone.relu(backbone.norm1(
            backbone.conv1(x))))]
        for block in list(backbone.layer1) + list(backbone.layer2):
            acts.append(block(acts[-1]))
    return acts


# ----------------------------------------------------------- frozen target
def test_target_stays_frozen_through_both_stages(target_cfg,
                                                 make_smooth_pixels):
    model = build(target_cfg, loss_weights=dict(cycle=1.0))
    target = model.target
    before = {k: v.clone() for k, v in target.state_dict().items()}
    assert any('running_mean' in k for k in before)
    x = normalise(make_smooth_pixels(4))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for stage in (1, 1, 2, 2):
        model.stage = stage
        losses = model.loss(x)
        assert losses['stage'].item() == stage
        optimizer.zero_grad()
        total(losses).backward()
        optimizer.step()
    assert not any(p.requires_grad for p in target.parameters())
    assert all(p.grad is None for p in target.parameters())
    after = target.state_dict()
    assert set(after) == set(before)
    for key, value in before.items():
        assert torch.equal(after[key], value), key
    assert not any(m.training for m in target.modules())
    # while the inverses did train
    assert all(m.training for m in model.inverses.modules())


def test_target_is_out_of_the_module_tree(target_cfg):
    model = build(target_cfg)
    target_ids = {id(p) for p in model.target.parameters()}
    assert target_ids
    assert not target_ids & {id(p) for p in model.parameters()}
    assert model.target not in list(model.modules())
    keys = list(model.state_dict())
    assert keys and all(k.startswith('inverses.') for k in keys), [
        k for k in keys if not k.startswith('inverses.')][:5]
    # a checkpoint of the inverter loads into a fresh one
    other = build(target_cfg)
    other.load_state_dict(model.state_dict(), strict=True)


def test_train_keeps_the_target_in_eval_mode(target_cfg):
    model = build(target_cfg)
    model.train()
    assert model.training and model.inverses.training
    assert not any(m.training for m in model.target.modules())
    model.eval()
    assert not model.inverses.training


def test_loaded_checkpoint_is_the_target(target_cfg, target_ckpt):
    model = build(target_cfg)
    saved = torch.load(target_ckpt, map_location='cpu')['state_dict']
    for key, value in model.target.state_dict().items():
        assert torch.equal(value, saved[key]), key


# ---------------------------------------------------------------- learning
def test_both_stages_lower_the_image_error(target_cfg, make_smooth_pixels):
    model = build(target_cfg)
    pixels = make_smooth_pixels(8)
    x = normalise(pixels)

    def image_error() -> float:
        model.eval()
        with torch.no_grad():
            recovered = model.to_pixels(model.invert(model.features(x)))
        model.train()
        return F.mse_loss(recovered, pixels).item()

    errors = [image_error()]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for stage in (1, 2):
        model.stage = stage
        for _ in range(40):
            optimizer.zero_grad()
            total(model.loss(x)).backward()
            optimizer.step()
        errors.append(image_error())
    initial, _, final = errors
    assert final < 0.5 * initial, errors  # about 0.06x measured
    # re-syncing the composed inverses end to end helps over stage 1
    assert errors[2] < errors[1], errors  # about 0.1x measured


# ------------------------------------------------------------------ losses
def test_stage1_losses_equal_a_computation_by_hand(target_cfg,
                                                   make_smooth_pixels):
    model = build(target_cfg)
    model.train()
    model.stage = 1
    x = normalise(make_smooth_pixels(4))
    losses = model.loss(x)
    assert set(losses) == {'loss_reconstruction', 'loss_cycle', 'stage'}
    acts = by_hand(model.target.backbone, x)
    assert len(acts) == len(model.inverses) + 1 == 6
    blocks = [lambda u, b=model.target.backbone: b.maxpool(b.relu(b.norm1(
        b.conv1(u))))] + list(model.target.backbone.layer1) + list(
            model.target.backbone.layer2)
    reconstruction = cycle = 0
    for i, inverse in enumerate(model.inverses):
        recovered = inverse(acts[i + 1])
        reconstruction += F.mse_loss(recovered, acts[i]).item()
        with torch.no_grad():
            cycle += F.mse_loss(blocks[i](recovered), acts[i + 1]).item()
    assert losses['loss_reconstruction'].item() == pytest.approx(
        reconstruction, rel=1e-5)
    assert losses['loss_cycle'].item() == pytest.approx(cycle, rel=1e-5)


def test_stage2_image_loss_is_the_composed_inversion_error(
        target_cfg, make_smooth_pixels):
    model = build(target_cfg, loss_weights=dict(image=2.0, reconstruction=0.5))
    model.eval()
    model.stage = 2
    x = normalise(make_smooth_pixels(4))
    losses = model.loss(x)
    assert set(losses) == {
        'loss_image', 'loss_reconstruction', 'loss_cycle', 'stage'}
    acts = by_hand(model.target.backbone, x)
    recovered = [acts[-1]]
    for inverse in reversed(model.inverses):
        recovered.insert(0, inverse(recovered[0]))
    with torch.no_grad():
        image = F.mse_loss(recovered[0], x).item()
        middle = sum(F.mse_loss(recovered[i], acts[i]).item()
                     for i in range(1, 5))
    assert losses['loss_image'].item() == pytest.approx(2 * image, rel=1e-5)
    assert losses['loss_reconstruction'].item() == pytest.approx(
        0.5 * middle, rel=1e-5)


@pytest.mark.parametrize('stage', [1, 2])
def test_zero_cycle_weight_drops_the_cycle_term(target_cfg, stage,
                                                make_smooth_pixels):
    model = build(target_cfg, loss_weights=dict(cycle=0))
    model.stage = stage
    calls = []
    hooks = [block.register_forward_hook(lambda *_: calls.append(1))
             for block in model.target.backbone.layer2]
    losses = model.loss(normalise(make_smooth_pixels(2)))
    for hook in hooks:
        hook.remove()
    assert 'loss_cycle' not in losses
    expected = {'loss_reconstruction'} | ({'loss_image'} if stage == 2 else
                                          set())
    assert {k for k in losses if k.startswith('loss')} == expected
    # layer2's blocks ran once each (the activations), not again for a
    # cycle term
    assert len(calls) == 2

    with_cycle = build(target_cfg, loss_weights=dict(cycle=1.0))
    with_cycle.stage = stage
    assert 'loss_cycle' in with_cycle.loss(normalise(make_smooth_pixels(2)))


# ------------------------------------------------------------------ stages
@pytest.fixture
def message_hub():
    hub = MessageHub.get_current_instance()
    before = hub.get_info('iter')
    yield hub
    hub.update_info('iter', before if before is not None else 0)


def test_stage_follows_the_runner_iteration(target_cfg, message_hub):
    model = build(target_cfg, stage1_iters=3)
    stages = []
    for iteration in range(6):
        message_hub.update_info('iter', iteration)
        stages.append(model.current_stage())
    assert stages == [1, 1, 1, 2, 2, 2]
    message_hub.update_info('iter', 4)
    assert model.loss(torch.zeros(1, 3, SIZE, SIZE))['stage'].item() == 2
    model.stage = 1  # forced
    assert model.current_stage() == 1


@pytest.mark.parametrize('stage1_iters, expected', [(None, 1), (0, 2)])
def test_stage_without_a_switch(target_cfg, message_hub, stage1_iters,
                                expected):
    model = build(target_cfg, stage1_iters=stage1_iters)
    for iteration in (0, 1000):
        message_hub.update_info('iter', iteration)
        assert model.current_stage() == expected


# ----------------------------------------------------------------- predict
def test_predict_returns_pixels_of_the_inversion_and_the_input(
        target_cfg, make_smooth_pixels):
    model = build(target_cfg)
    model.eval()
    pixels = make_smooth_pixels(3)
    outputs = model(normalise(pixels), mode='predict')
    assert len(outputs) == 3
    for output, original in zip(outputs, pixels):
        assert set(output) == {'recovered', 'original'}
        for value in output.values():
            assert value.shape == (3, SIZE, SIZE)
            assert 0 <= value.min() and value.max() <= 1
        torch.testing.assert_close(output['original'], original,
                                   rtol=0, atol=1e-5)
    recovered = torch.stack([o['recovered'] for o in outputs])
    inverted = model(normalise(pixels), mode='tensor')
    assert inverted.shape == (3, 3, SIZE, SIZE)
    torch.testing.assert_close(
        recovered, ((inverted * 64 + 127.5) / 255).clamp(0, 1))
