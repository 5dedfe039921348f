"""Slimming a model mid-training: the slim model, its optimiser state and
its EMA copy must continue exactly as the masked dense model would."""
import copy

import pytest
import torch
from mmengine.model import ExponentialMovingAverage

from mmext.pruning.epi import global_ratio_masks
from mmext.pruning.graph import build_channel_groups, example_inputs
from mmext.pruning.importance import normalized_l2_saliency
from mmext.pruning.masks import apply_plan, mask_optimizer_state, zero_plan
from mmext.pruning.slim_training import slim_in_training, surviving_entries
from ._models import resnet18_classifier

SHAPE = (3, 32, 32)


def _train_step(model, optimizer, images, labels):
    optimizer.zero_grad()
    loss = torch.nn.functional.cross_entropy(
        model(images, mode='tensor'), labels)
    loss.backward()
    optimizer.step()


def _setup(make_optimizer):
    torch.manual_seed(0)
    model = resnet18_classifier(width=8)
    optimizer = make_optimizer(model.parameters())
    images, labels = torch.randn(6, *SHAPE), torch.randint(0, 5, (6, ))
    _train_step(model, optimizer, images, labels)  # non-trivial state
    groups = build_channel_groups(model, example_inputs(model, SHAPE))
    keep = global_ratio_masks(groups, normalized_l2_saliency(model, groups),
                              0.5)
    return model, optimizer, groups, keep, images, labels


OPTIMIZERS = {
    'sgd': lambda p: torch.optim.SGD(
        p, lr=0.1, momentum=0.9, weight_decay=1e-3, nesterov=True),
    'adamw': lambda p: torch.optim.AdamW(p, lr=1e-2),
}


@pytest.mark.parametrize('name', sorted(OPTIMIZERS))
def test_slim_training_continues_as_the_masked_model(name):
    model, optimizer, groups, keep, images, labels = _setup(OPTIMIZERS[name])
    # reference: the masked dense model with masked optimiser state
    masked = copy.deepcopy(model)
    masked_opt = OPTIMIZERS[name](masked.parameters())
    # load_state_dict would share the momentum tensors without the copy
    masked_opt.load_state_dict(copy.deepcopy(optimizer.state_dict()))
    plan = zero_plan(masked, groups, keep)
    apply_plan(plan)
    mask_optimizer_state(masked_opt, plan)

    slim_in_training(model, keep, SHAPE, optimizers=[optimizer])
    dense_params = sum(p.numel() for p in masked.parameters())
    assert sum(p.numel() for p in model.parameters()) < 0.5 * dense_params
    assert set(optimizer.state) == set(model.parameters())

    for _ in range(2):
        _train_step(model, optimizer, images, labels)
        _train_step(masked, masked_opt, images, labels)
        apply_plan(plan)
        mask_optimizer_state(masked_opt, plan)
    model.eval(), masked.eval()
    with torch.no_grad():
        torch.testing.assert_close(
            model(images, mode='tensor'),
            masked(images, mode='tensor'),
            rtol=1e-4,
            atol=1e-5)


def test_ema_copy_is_slimmed_with_its_own_values():
    model, optimizer, groups, keep, images, labels = _setup(
        OPTIMIZERS['sgd'])
    ema = ExponentialMovingAverage(model, momentum=0.5)
    _train_step(model, optimizer, images, labels)
    ema.update_parameters(model)
    ema.update_parameters(model)  # the average now differs from the model
    masked_ema = copy.deepcopy(ema.module)
    apply_plan(zero_plan(masked_ema, groups, keep))

    slim_in_training(model, keep, SHAPE, averaged_models=[ema])
    assert ema.module is not model
    assert not any(p.requires_grad for p in ema.module.parameters())
    ema.module.eval(), masked_ema.eval()
    with torch.no_grad():
        torch.testing.assert_close(
            ema.module(images, mode='tensor'),
            masked_ema(images, mode='tensor'),
            rtol=1e-4,
            atol=1e-5)
    ema.update_parameters(model)  # the slim model feeds the slim average


def test_entry_maps_follow_the_coupled_surgery():
    torch.manual_seed(0)
    model = resnet18_classifier(width=8)
    groups = build_channel_groups(model, example_inputs(model, SHAPE))
    keep = global_ratio_masks(groups, normalized_l2_saliency(model, groups),
                              0.5)
    entries = surviving_entries(model, keep, SHAPE)
    stem = next(g for g in groups if g.key == 'backbone.conv1')
    kept = keep['backbone.conv1'].nonzero().flatten()
    # the stem's kept output channels, and its BN's entries
    out_channels, fan_in = model.backbone.conv1.weight.shape[0], 3 * 7 * 7
    expected = (kept[:, None] * fan_in + torch.arange(fan_in)).flatten()
    assert torch.equal(entries['backbone.conv1.weight'], expected)
    assert torch.equal(entries['backbone.bn1.running_var'], kept)
    assert stem.num_channels == out_channels
    # the residual partner (layer1's second conv) keeps the same channels
    conv = model.backbone.layer1[0].conv2.weight
    per_filter = conv[0].numel()
    assert torch.equal(entries['backbone.layer1.0.conv2.weight'][::per_filter]
                       // per_filter, kept)
