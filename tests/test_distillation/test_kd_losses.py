"""DICOD's KD losses against the paper's formulas written out by hand
(Guo et al., NeurIPS 2021, Eqs. 1-7 and 10-11)."""
import math

import pytest
import torch

from mmext.distillation import (kd_cls_sigmoid, kd_cls_softmax, kd_loc,
                                resnet_stage_outputs)


def _softmax(values):
    exps = [math.exp(v) for v in values]
    return [e / sum(exps) for e in exps]


def _sigmoid(value):
    return 1 / (1 + math.exp(-value))


def test_kd_cls_softmax_matches_eq_4_with_zero_background():
    student = torch.tensor([[1.0, -0.5, 2.0, 0.3], [0.2, 0.1, -1.0, 1.5]])
    teacher = torch.tensor([[2.0, 0.0, 1.0], [-1.0, 3.0, 0.5]])
    temperature = 2.0
    expected = 0.0
    for s_row, t_row in zip(student.tolist(), teacher.tolist()):
        p_t = _softmax([v / temperature for v in t_row]) + [0.0]
        p_s = _softmax([v / temperature for v in s_row])
        expected += temperature**2 * sum(
            pt * (math.log(pt) - math.log(ps)) for pt, ps in zip(p_t, p_s)
            if pt > 0)
    expected /= 2
    ours = kd_cls_softmax(student, teacher, temperature)
    assert ours.item() == pytest.approx(expected, rel=1e-6)


def test_kd_cls_softmax_zero_when_student_matches_teacher():
    teacher = torch.randn(5, 4)
    # Background logit -inf would be exact; a very low one is close.
    student = torch.cat([teacher, torch.full((5, 1), -60.0)], 1)
    assert kd_cls_softmax(student, teacher, 1.0).item() < 1e-6


def test_kd_cls_sigmoid_matches_eqs_5_to_7_with_label_flip():
    student = torch.tensor([[0.5, -1.0, 2.0], [1.0, 0.0, -2.0]])
    teacher = torch.tensor([[1.5, 0.5, -0.5], [-1.0, 2.0, 0.0]])
    labels = torch.tensor([2, 0])
    temperature = 2.0
    num_classes = 3
    expected = 0.0
    for s_row, t_row, label in zip(student.tolist(), teacher.tolist(),
                                   labels.tolist()):
        total = 0.0
        for c in range(num_classes):
            ps = _sigmoid(s_row[c] / temperature)
            pt = _sigmoid(t_row[c] / temperature)
            # Eq. 6: [1 - p, p] for the ground-truth class, [p, 1 - p]
            # for the others.
            dist_s = [1 - ps, ps] if c == label else [ps, 1 - ps]
            dist_t = [1 - pt, pt] if c == label else [pt, 1 - pt]
            total += sum(t * (math.log(t) - math.log(s))
                         for t, s in zip(dist_t, dist_s))
        expected += temperature**2 / num_classes * total
    expected /= 2
    ours = kd_cls_sigmoid(student, teacher, labels, temperature)
    assert ours.item() == pytest.approx(expected, rel=1e-6)


def test_kd_cls_losses_without_positives_keep_the_graph():
    student = torch.zeros(0, 4, requires_grad=True)
    loss = kd_cls_softmax(student, torch.zeros(0, 3), 2.0)
    loss.backward()
    assert loss.item() == 0 and student.grad is not None
    loss = kd_cls_sigmoid(torch.zeros(0, 3, requires_grad=True),
                          torch.zeros(0, 3), torch.zeros(0).long(), 2.0)
    assert loss.item() == 0


def test_kd_cls_rejects_mismatched_classes():
    with pytest.raises(ValueError, match='C \\+ 1'):
        kd_cls_softmax(torch.zeros(2, 4), torch.zeros(2, 4), 2.0)
    with pytest.raises(ValueError, match='kd_cls.T'):
        kd_cls_softmax(torch.zeros(2, 4), torch.zeros(2, 3), 0.0)


def _pool_l1_by_hand(a, b, size):
    """Mean |AP(a) - AP(b)| per crop with explicit block averages."""
    n, c, h, w = a.shape
    pa = a.reshape(n, c, size, h // size, size, w // size).mean((3, 5))
    pb = b.reshape(n, c, size, h // size, size, w // size).mean((3, 5))
    return (pa - pb).abs().mean((1, 2, 3))


def test_kd_loc_matches_eqs_10_and_11():
    torch.manual_seed(0)
    images = torch.rand(2, 3, 32, 32)
    # Boxes on whole pixels with crops of the box size: the crop is the
    # image block itself, so the expected value needs no interpolation.
    pred = torch.tensor([[0, 4., 4., 20., 20.], [1, 8., 0., 24., 16.]])
    gt = torch.tensor([[0, 6., 6., 22., 22.], [1, 8., 8., 24., 24.]])
    conv = torch.nn.Conv2d(3, 5, 3, padding=1)

    def teacher(crops, stages):
        return [conv(crops) for _ in stages]

    ours = kd_loc(teacher, images, pred, gt, layers=(-1, 0),
                  pool_sizes=(4, 8), size=16)

    def block(roi):
        b, x1, y1, x2, y2 = [int(v) for v in roi]
        return images[b:b + 1, :, y1:y2, x1:x2]

    pred_crops = torch.cat([block(r) for r in pred])
    gt_crops = torch.cat([block(r) for r in gt])
    pixel = _pool_l1_by_hand(pred_crops, gt_crops, 4)
    stem = _pool_l1_by_hand(conv(pred_crops), conv(gt_crops), 8)
    assert ours.item() == pytest.approx((pixel + stem).mean().item(),
                                        rel=1e-5)


def test_kd_loc_gradient_reaches_boxes_not_teacher():
    torch.manual_seed(0)
    images = torch.rand(1, 3, 32, 32)
    pred = torch.tensor([[0, 3.3, 4.1, 20.2, 21.7]], requires_grad=True)
    gt = torch.tensor([[0, 6., 6., 22., 22.]])
    conv = torch.nn.Conv2d(3, 4, 3).requires_grad_(False)
    loss = kd_loc(lambda crops, stages: [conv(crops)], images, pred, gt,
                  layers=(0, ), pool_sizes=(4, ), size=16)
    loss.backward()
    assert pred.grad[0, 1:].abs().sum() > 0
    assert conv.weight.grad is None


def test_resnet_stage_outputs_match_the_backbone():
    from mmpretrain.models.backbones import ResNet
    backbone = ResNet(depth=18, base_channels=8, stem_channels=8,
                      out_indices=(0, 1))
    backbone.eval()  # mmpretrain's ResNet.train() returns None
    images = torch.rand(2, 3, 32, 32)
    stem, stage2 = resnet_stage_outputs(backbone, images, [0, 2])
    assert stem.shape == (2, 8, 8, 8)
    assert torch.allclose(stage2, backbone(images)[1])


def test_kd_loc_is_the_mean_over_boxes_when_they_share_a_ground_truth():
    torch.manual_seed(0)
    images = torch.rand(1, 3, 32, 32)
    conv = torch.nn.Conv2d(3, 4, 3).requires_grad_(False)

    def loss(pred, gt):
        return kd_loc(lambda crops, stages: [conv(crops)], images, pred, gt,
                      layers=(-1, 0), pool_sizes=(2, 4), size=16)

    pred = torch.tensor([[0, 3.3, 4.1, 20.2, 21.7], [0, 5., 2., 25., 19.]])
    gt = torch.tensor([[0, 6., 6., 22., 22.]]).repeat(2, 1)
    each = [loss(pred[i:i + 1], gt[i:i + 1]) for i in range(2)]
    assert loss(pred, gt).item() == pytest.approx(
        (each[0] + each[1]).item() / 2, rel=1e-6)
