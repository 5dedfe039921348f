"""SegFormerHead against the paper's equations, written out literally."""
import pytest
import torch
import torch.nn.functional as F

from mmext.models.seg import SegFormerHead

IN_CHANNELS = [8, 16, 24, 32]
CHANNELS = 12
NUM_CLASSES = 5


def paper_head(feats, head, training):
    """Eq. 4 of arXiv:2105.15203 with the head's parameters, step by step:
    per-level Linear(C_i, C) on each pixel, bilinear upsampling to 1/4,
    Concat[F_4, F_3, F_2, F_1], Linear(4C, C), BN, ReLU, Linear(C, N_cls)."""
    size = feats[0].shape[2:]
    projected = []
    for i, feat in enumerate(feats):
        weight = head.level_projs[i].weight[:, :, 0, 0]  # [C, C_i]
        bias = head.level_projs[i].bias
        level = torch.einsum('bchw,dc->bdhw', feat, weight) + \
            bias[None, :, None, None]
        projected.append(F.interpolate(level, size=size, mode='bilinear',
                                       align_corners=False))
    concat = torch.cat(projected[::-1], dim=1)  # [F4, F3, F2, F1]
    fused = torch.einsum('bchw,dc->bdhw', concat,
                         head.fuse_conv.weight[:, :, 0, 0])
    bn = head.fuse_norm
    fused = F.batch_norm(fused, bn.running_mean.clone(),
                         bn.running_var.clone(), bn.weight, bn.bias,
                         training=training, eps=bn.eps)
    fused = fused.clamp(min=0)
    return torch.einsum('bchw,kc->bkhw', fused,
                        head.conv_seg.weight[:, :, 0, 0]) + \
        head.conv_seg.bias[None, :, None, None]


def make_head(**kwargs):
    torch.manual_seed(0)
    head = SegFormerHead(in_channels=IN_CHANNELS, channels=CHANNELS,
                         num_classes=NUM_CLASSES, norm_cfg=dict(type='BN'),
                         **kwargs)
    with torch.no_grad():
        for param in head.parameters():
            param.normal_(0, 0.2)
        head.fuse_norm.running_mean.normal_(0, 0.1)
        head.fuse_norm.running_var.uniform_(0.5, 2.0)
    return head


def features(batch=2, size=(32, 48)):
    torch.manual_seed(1)
    return [torch.randn(batch, c, -(-size[0] // 2**i), -(-size[1] // 2**i))
            for i, c in enumerate(IN_CHANNELS)]


def test_eval_output_equals_the_equations():
    head = make_head().eval()
    feats = features()
    got = head(feats)
    assert got.shape == (2, NUM_CLASSES, 32, 48)
    torch.testing.assert_close(got, paper_head(feats, head, False),
                               rtol=1e-4, atol=1e-5)


def test_training_output_and_gradients_equal_the_equations():
    head = make_head(dropout_ratio=0.0).train()
    feats = [f.requires_grad_() for f in features(size=(20, 36))]
    target = torch.randn(2, NUM_CLASSES, 20, 36)
    got = head(feats)
    (got * target).sum().backward()
    grads = {n: p.grad.clone() for n, p in head.named_parameters()}
    input_grads = [f.grad.clone() for f in feats]
    head.zero_grad()
    for f in feats:
        f.grad = None
    expected = paper_head(feats, head, True)
    (expected * target).sum().backward()
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    for name, param in head.named_parameters():
        torch.testing.assert_close(grads[name], param.grad, rtol=1e-4,
                                   atol=1e-4, msg=name)
    for g, f in zip(input_grads, feats):
        torch.testing.assert_close(g, f.grad, rtol=1e-4, atol=1e-4)


def test_level_projections_have_no_norm_or_activation():
    head = make_head()
    assert all(type(p) is torch.nn.Conv2d for p in head.level_projs)
    assert head.fuse_conv.bias is None
    assert head.dropout.p == 0.1


def test_loss_decreases_on_a_fixed_batch():
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    head = make_head(dropout_ratio=0.0)
    for param in head.parameters():
        param.data.mul_(0.1)
    feats = features(size=(16, 16))
    # Labels a linear function of the level-0 features can predict, one per
    # feature cell (4x4 pixels).
    teacher = torch.randn(NUM_CLASSES, IN_CHANNELS[0])
    labels = torch.einsum('kc,bchw->bkhw', teacher, feats[0]).argmax(1)
    labels = labels.repeat_interleave(4, 1).repeat_interleave(4, 2)
    samples = []
    for b in range(2):
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=labels[b:b + 1])
        sample.set_metainfo(dict(img_shape=(64, 64), pad_shape=(64, 64)))
        samples.append(sample)
    optim = torch.optim.Adam(head.parameters(), lr=5e-2)
    losses = []
    for _ in range(40):
        loss = head.loss(feats, samples, train_cfg={})['loss_ce']
        optim.zero_grad()
        loss.backward()
        optim.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_sync_bn_falls_back_to_bn_without_a_process_group(capsys):
    from mmengine.logging import MMLogger
    MMLogger.get_instance('test_segformer_head_syncbn')
    head = SegFormerHead(in_channels=IN_CHANNELS, channels=CHANNELS,
                         num_classes=NUM_CLASSES,
                         norm_cfg=dict(type='SyncBN', requires_grad=True))
    assert type(head.fuse_norm) is torch.nn.BatchNorm2d
    captured = capsys.readouterr()
    assert 'using BN instead' in captured.out + captured.err
    head.train()
    out = head(features())  # SyncBN would raise here
    assert out.shape[1] == NUM_CLASSES


def test_in_index_must_match_in_channels():
    with pytest.raises(ValueError, match='in_index'):
        SegFormerHead(in_channels=IN_CHANNELS, channels=CHANNELS,
                      num_classes=NUM_CLASSES, in_index=[0, 1],
                      norm_cfg=dict(type='BN'))


@pytest.mark.parametrize('scope', ['mmext', 'mmdet', 'mmseg'])
def test_builds_its_loss_under_any_default_scope(scope):
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope(scope):
        head = SegFormerHead(in_channels=IN_CHANNELS, channels=CHANNELS,
                             num_classes=NUM_CLASSES,
                             norm_cfg=dict(type='BN'))
    assert type(head.loss_decode).__name__ == 'CrossEntropyLoss'
