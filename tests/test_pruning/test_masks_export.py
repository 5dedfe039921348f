"""Masks make the network compute what the physically slimmed one computes;
the slim architecture rebuilds from its widths and loads strictly."""
import copy

import torch
from mmengine.registry import MODELS

from mmext.pruning.export import cut_to_widths, kept_widths, slim_model
from mmext.pruning.graph import build_channel_groups
from mmext.pruning.masks import apply_plan, full_masks, kept_fraction, \
    mask_optimizer_state, zero_plan
from mmext.testing.classifiers import resnet18_classifier_cfg

from ._models import (Detector, randomize_norms,
                      resnet18_classifier)

SHAPE = (3, 64, 64)


def random_masks(groups, seed=0, keep_prob=0.6):
    gen = torch.Generator().manual_seed(seed)
    keep = {}
    for group in groups:
        mask = torch.rand(group.num_channels, generator=gen) < keep_prob
        mask[torch.randint(group.num_channels, (1, ), generator=gen)] = True
        keep[group.key] = mask
    return keep


def _params(model):
    return sum(p.numel() for p in model.parameters())


def test_masked_equals_slim_classifier():
    model = resnet18_classifier(width=16).eval()
    groups = build_channel_groups(model, torch.randn(1, *SHAPE))
    keep = random_masks(groups)
    apply_plan(zero_plan(model, groups, keep))
    x = torch.randn(2, *SHAPE)
    with torch.no_grad():
        masked = model(x)
    slim = slim_model(copy.deepcopy(model), keep, SHAPE)
    with torch.no_grad():
        torch.testing.assert_close(slim(x), masked, atol=1e-5, rtol=0)
    assert _params(slim) < 0.6 * _params(model)
    assert slim.head.fc.in_features == int(
        keep['backbone.layer4.0.conv2'].sum())
    assert kept_fraction(full_masks(groups)) == 1.0


def test_masked_equals_slim_detector_scope():
    torch.manual_seed(0)
    model = Detector(width=16).eval()
    randomize_norms(model)
    scope = ('backbone', 'neck')
    groups = build_channel_groups(model, torch.randn(1, *SHAPE), scope)
    keep = random_masks(groups, seed=1)
    apply_plan(zero_plan(model, groups, keep))
    x = torch.randn(1, *SHAPE)
    with torch.no_grad():
        masked = model.neck(model.backbone(x))
    slim = slim_model(copy.deepcopy(model), keep, SHAPE, scope=scope)
    with torch.no_grad():
        out = slim.neck(slim.backbone(x))
    for a, b in zip(out, masked):
        assert a.shape == b.shape  # FPN outputs keep their channels
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_pruned_model_config_loads_slim_weights_strictly():
    cfg = dict(type='mmpretrain.ImageClassifier', **resnet18_classifier_cfg(16, 5))
    dense = MODELS.build(cfg).eval()
    randomize_norms(dense)
    groups = build_channel_groups(dense, torch.randn(1, *SHAPE))
    keep = random_masks(groups, seed=2)
    slim = slim_model(copy.deepcopy(dense), keep, SHAPE)
    rebuilt = MODELS.build(
        dict(
            type='mmext.PrunedModel',
            model=cfg,
            channels=kept_widths(keep),
            input_shape=SHAPE)).eval()
    assert type(rebuilt) is type(dense)
    rebuilt.load_state_dict(slim.state_dict(), strict=True)
    x = torch.randn(2, *SHAPE)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x), slim(x))
    # the core function the registered builder wraps, on a plain module
    cut = cut_to_widths(copy.deepcopy(dense), kept_widths(keep), SHAPE)
    assert cut.state_dict().keys() == slim.state_dict().keys()
    assert all(cut.state_dict()[k].shape == v.shape
               for k, v in slim.state_dict().items())


def test_optimizer_state_is_masked():
    model = resnet18_classifier(width=8)
    groups = build_channel_groups(model, torch.randn(1, *SHAPE))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(2, *SHAPE)).sum().backward()
    optimizer.step()
    keep = random_masks(groups, seed=3)
    plan = zero_plan(model, groups, keep)
    mask_optimizer_state(optimizer, plan)
    bn = model.backbone.bn1
    dropped = ~keep['backbone.conv1']
    buf = optimizer.state[bn.weight]['momentum_buffer']
    assert torch.all(buf[dropped] == 0)
    assert torch.any(buf[~dropped] != 0)


def test_mmseg_cnn_segmentor_masked_equals_slim():
    """mmseg CNN segmentors are pruned whole (mode='tensor'); the classifier
    conv_seg keeps its classes."""
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')
    norm = dict(type='BN', requires_grad=True)
    model = MODELS.build(
        dict(
            type='EncoderDecoder',
            data_preprocessor=dict(type='SegDataPreProcessor'),
            backbone=dict(
                type='ResNetV1c', depth=18, base_channels=8,
                stem_channels=16, out_indices=(2, 3), norm_cfg=norm),
            decode_head=dict(
                type='FCNHead', in_channels=64, in_index=1, channels=16,
                num_convs=1, num_classes=4, norm_cfg=norm,
                concat_input=False))).eval()
    randomize_norms(model)
    groups = build_channel_groups(model, torch.randn(1, *SHAPE))
    assert 'decode_head.conv_seg' not in {g.key for g in groups}
    assert 'decode_head.convs.0.conv' in {g.key for g in groups}
    keep = random_masks(groups, seed=4)
    apply_plan(zero_plan(model, groups, keep))
    x = torch.randn(1, *SHAPE)
    with torch.no_grad():
        masked = model(x, mode='tensor')
    slim = slim_model(copy.deepcopy(model), keep, SHAPE)
    with torch.no_grad():
        out = slim(x, mode='tensor')
    assert out.shape == masked.shape == (1, 4, 2, 2)
    torch.testing.assert_close(out, masked, atol=1e-5, rtol=0)
