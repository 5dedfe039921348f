"""mmext.DICODDistiller on three mmdet families (Faster R-CNN, RetinaNet,
SSD): KD losses on positives only, a frozen teacher outside the optimizer,
student-only checkpoints, and errors that name the field."""
import copy
import os.path as osp

import pytest
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import bbox_overlaps
from mmengine.config import ConfigDict
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

from mmext.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
STUDENTS = {
    # family: (config, input side, student mean/std differs?)
    'faster_rcnn': osp.join(
        REPO, 'configs/shapes/faster-rcnn_r18-w32_fpn_1xb4-10e_shapes-'
        '128px.py'),
    'retinanet': osp.join(
        REPO, 'configs/dicod/retinanet_r18-w32_fpn_1xb4-10e_shapes-128px.py'),
    'ssd': 'mmdet::ssd/ssd300_coco.py',
}
SIDE = {'faster_rcnn': 128, 'retinanet': 128, 'ssd': 300}


def student_cfg(family: str) -> dict:
    """The stock detector config of a family, 8 classes."""
    from mmext.apis.inference import load_config
    model = load_config(STUDENTS[family]).model.to_dict()
    if family == 'ssd':
        model['bbox_head']['num_classes'] = 8
        model['backbone']['init_cfg'] = None  # no ImageNet download here
    return model


def build_distiller(family: str, dicod_teacher, **overrides):
    init_default_scope('mmdet')
    std = [1, 1, 1] if family == 'ssd' else None
    teacher_cfg, ckpt = dicod_teacher(std=std) if std else dicod_teacher()
    cfg = dict(type='mmext.DICODDistiller', student=student_cfg(family),
               teacher=teacher_cfg, teacher_ckpt=ckpt,
               kd_cls=dict(crop_size=32), kd_loc=dict(crop_size=32))
    cfg.update(overrides)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def batch(side: int, seed: int = 0) -> dict:
    """Two images with two objects each (raw uint8, as a dataloader
    gives)."""
    generator = torch.Generator().manual_seed(seed)
    scale = side / 128
    boxes = torch.tensor([[10., 12., 60., 70.], [70., 20., 120., 64.]])
    samples = []
    for labels in ([1, 3], [5, 0]):
        sample = DetDataSample(metainfo=dict(
            img_shape=(side, side), ori_shape=(side, side),
            pad_shape=(side, side), scale_factor=(1., 1.),
            batch_input_shape=(side, side)))
        sample.gt_instances = InstanceData(bboxes=boxes * scale,
                                           labels=torch.tensor(labels))
        samples.append(sample)
    inputs = [torch.randint(0, 256, (3, side, side), dtype=torch.uint8,
                            generator=generator) for _ in samples]
    return dict(inputs=inputs, data_samples=samples)


@pytest.mark.parametrize('family', ['faster_rcnn', 'retinanet', 'ssd'])
def test_training_step_distils_and_leaves_the_teacher_alone(
        family, dicod_teacher):
    model = build_distiller(family, dicod_teacher)
    model.train()
    optim_wrapper = build_optim_wrapper(
        model, dict(type='OptimWrapper',
                    optimizer=dict(type='SGD', lr=0.01, momentum=0.9)))
    optimized = {id(p) for group in optim_wrapper.optimizer.param_groups
                 for p in group['params']}
    teacher_params = list(model.teacher.model.parameters())
    assert not optimized & {id(p) for p in teacher_params}
    assert optimized == {id(p) for p in model.student.parameters()}
    teacher_before = copy.deepcopy(model.teacher.model.state_dict())
    student_before = [p.detach().clone() for p in model.student.parameters()]

    log_vars = model.train_step(batch(SIDE[family]), optim_wrapper)

    for key in ('loss_kd_cls', 'loss_kd_loc'):
        assert torch.isfinite(log_vars[key]) and log_vars[key] > 0
    assert all(p.grad is None for p in teacher_params)
    for key, value in model.teacher.model.state_dict().items():
        assert torch.equal(value, teacher_before[key]), key
    assert not model.teacher.model.training
    assert any(not torch.equal(p, q) for p, q in zip(
        model.student.parameters(), student_before))


def _kd_losses(model, data, perturb_hooks) -> dict:
    torch.manual_seed(0)  # the same proposals and RoI sampling every time
    handles = [module.register_forward_hook(hook)
               for module, hook in perturb_hooks]
    try:
        processed = model.data_preprocessor(copy.deepcopy(data), True)
        losses = model(**processed, mode='loss')
    finally:
        for handle in handles:
            handle.remove()
    return {k: sum(v) if isinstance(v, list) else v  # per-level lists
            for k, v in losses.items()
            if k in ('loss_kd_cls', 'loss_kd_loc', 'loss_cls')}


def _anchor_head_hook(model, data, positive: bool):
    """Perturb the one-stage head's outputs at anchors that are surely
    negative (IoU < the assigner's neg_iou_thr with every ground truth, and
    no ground truth's best anchor) or surely positive (IoU >= its
    pos_iou_thr with some)."""
    head = model.student.bbox_head
    assigner = head.train_cfg['assigner']
    gts = [s.gt_instances.bboxes for s in data['data_samples']]

    def hook(module, args, outputs):
        cls_scores, bbox_preds = outputs
        sizes = [score.shape[-2:] for score in cls_scores]
        levels = module.prior_generator.grid_priors(
            sizes, device=cls_scores[0].device)
        masks = []
        for gt in gts:
            iou = bbox_overlaps(torch.cat(levels), gt)  # [N, G]
            if positive:
                masks.append(iou.max(1).values >= assigner['pos_iou_thr'])
            else:
                # Low-quality matches (each ground truth's best anchors)
                # are positives whatever their IoU.
                best = (iou == iou.max(0, keepdim=True).values).any(1)
                masks.append((iou.max(1).values < assigner['neg_iou_thr']) &
                             ~best)
        masks = torch.stack(masks).split([len(a) for a in levels], dim=1)
        new_cls, new_box = [], []
        for mask, score, box in zip(masks, cls_scores, bbox_preds):
            num_images, _, height, width = score.shape
            mask = mask.view(num_images, height, width, -1, 1).float()

            def noisy(tensor):
                channels = tensor.size(1) // mask.size(3)
                full = mask.expand(-1, -1, -1, -1, channels).reshape(
                    num_images, height, width, -1).permute(0, 3, 1, 2)
                return tensor + 3.0 * full * torch.randn_like(tensor)

            new_cls.append(noisy(score))
            new_box.append(noisy(box))
        return new_cls, new_box

    return [(head, hook)]


def _roi_head_hooks(model, data, positive: bool):
    """Perturb the RoI head's outputs at rois that are negatives (IoU <
    0.5 with every ground truth) or positives (>= 0.5)."""
    roi_head = model.student.roi_head
    gts = [s.gt_instances.bboxes for s in data['data_samples']]
    seen = {}

    def record_rois(module, args, output):
        seen['rois'] = args[1]

    def hook(module, args, outputs):
        cls_score, bbox_pred = outputs
        rois = seen['rois']
        max_iou = torch.zeros(len(rois))
        for image, gt in enumerate(gts):
            rows = rois[:, 0] == image
            max_iou[rows] = bbox_overlaps(rois[rows, 1:], gt).max(1).values
        mask = (max_iou >= 0.5) if positive else (max_iou < 0.5)
        mask = mask[:, None].float()
        return (cls_score + 3.0 * mask * torch.randn_like(cls_score),
                bbox_pred + 3.0 * mask * torch.randn_like(bbox_pred))

    return [(roi_head.bbox_roi_extractor, record_rois),
            (roi_head.bbox_head, hook)]


@pytest.mark.parametrize('family', ['faster_rcnn', 'retinanet'])
def test_only_positives_are_distilled(family, dicod_teacher):
    model = build_distiller(family, dicod_teacher)
    model.train()
    data = batch(SIDE[family])
    hooks = _roi_head_hooks if family == 'faster_rcnn' else _anchor_head_hook
    clean = _kd_losses(model, data, [])
    negatives = _kd_losses(model, data, hooks(model, data, positive=False))
    positives = _kd_losses(model, data, hooks(model, data, positive=True))
    # The detector's own loss sees the perturbed negatives ...
    assert not torch.allclose(negatives['loss_cls'], clean['loss_cls'])
    # ... the KD losses do not, but they do see the positives.
    for key in ('loss_kd_cls', 'loss_kd_loc'):
        torch.testing.assert_close(negatives[key], clean[key])
        assert not torch.allclose(positives[key], clean[key])


def _kd_loc_inputs(model, data, monkeypatch) -> tuple:
    """``loss_kd_loc``, the number of positives and the rois KD_loc got."""
    from mmext.models.det.dicod import distiller
    seen = {}

    def recording_subset(count, limit, device):
        seen['count'] = count
        return distiller_subset(count, limit, device)

    def recording_kd_loc(teacher, images, pred_rois, gt_rois, *args):
        seen['rois'] = gt_rois
        return distiller_kd_loc(teacher, images, pred_rois, gt_rois, *args)

    distiller_subset, distiller_kd_loc = (distiller.random_subset,
                                          distiller.kd_loc)
    monkeypatch.setattr(distiller, 'random_subset', recording_subset)
    monkeypatch.setattr(distiller, 'kd_loc', recording_kd_loc)
    processed = model.data_preprocessor(copy.deepcopy(data), True)
    loss = model(**processed, mode='loss')['loss_kd_loc']
    monkeypatch.undo()
    return loss, seen['count'], seen['rois']


def test_kd_loc_distils_a_random_subset_of_the_positives(
        dicod_teacher, monkeypatch):
    data = batch(SIDE['retinanet'])
    everything = build_distiller('retinanet', dicod_teacher, kd_cls=None)
    everything.train()
    torch.manual_seed(0)
    full, count, all_rois = _kd_loc_inputs(everything, data, monkeypatch)
    assert count == len(all_rois) > 8  # many anchors per object
    losses, subsets = [], set()
    for seed in range(3):
        capped = build_distiller(
            'retinanet', dicod_teacher, kd_cls=None,
            kd_loc=dict(crop_size=32, max_positives=8))
        capped.train()
        torch.manual_seed(seed)
        loss, capped_count, rois = _kd_loc_inputs(capped, data, monkeypatch)
        assert capped_count == count and len(rois) == 8
        # the subset's rows are distinct positives of the full set
        matches = (rois[:, None] == all_rois[None]).all(-1)
        assert (matches.sum(1) >= 1).all()
        subsets.add(tuple(sorted(map(tuple, rois.tolist()))))
        losses.append(float(loss))
    assert len(subsets) > 1  # the draw follows the seed
    torch.manual_seed(1)
    again, _, _ = _kd_loc_inputs(capped, data, monkeypatch)
    assert float(again) == losses[1]
    # a cap at or above the number of positives distils them all
    uncapped = build_distiller(
        'retinanet', dicod_teacher, kd_cls=None,
        kd_loc=dict(crop_size=32, max_positives=count))
    uncapped.train()
    torch.manual_seed(0)
    same, _, _ = _kd_loc_inputs(uncapped, data, monkeypatch)
    torch.testing.assert_close(same, full)


def test_the_positive_subset_is_uniform():
    from mmext.models.det.dicod.distiller import random_subset
    assert random_subset(5, None, torch.device('cpu')) is None
    assert random_subset(5, 5, torch.device('cpu')) is None
    torch.manual_seed(0)
    draws = torch.stack([random_subset(5, 2, torch.device('cpu'))
                         for _ in range(4000)])
    assert (draws[:, 0] != draws[:, 1]).all()
    frequency = torch.bincount(draws.flatten(), minlength=5) / 4000
    # each index is kept with probability 2/5 (sd 0.008)
    torch.testing.assert_close(frequency, torch.full((5, ), 0.4),
                               atol=0.03, rtol=0)


def test_kd_losses_switch_off(dicod_teacher):
    model = build_distiller('faster_rcnn', dicod_teacher, kd_cls=None)
    processed = model.data_preprocessor(batch(128), True)
    losses = model(**processed, mode='loss')
    assert 'loss_kd_loc' in losses and 'loss_kd_cls' not in losses


def test_predict_and_tensor_modes_are_the_students(dicod_teacher):
    model = build_distiller('retinanet', dicod_teacher)
    model.eval()
    processed = model.data_preprocessor(batch(128), False)
    with torch.no_grad():
        ours = model(**processed, mode='predict')
        theirs = model.student.predict(processed['inputs'],
                                       processed['data_samples'])
        assert torch.equal(ours[0].pred_instances.bboxes,
                           theirs[0].pred_instances.bboxes)
        tensors = model(**processed, mode='tensor')
        for a, b in zip(tensors[0],
                        model.student._forward(processed['inputs'])[0]):
            assert torch.equal(a, b)


def test_checkpoint_has_the_students_own_keys(dicod_teacher, tmp_path):
    from mmengine.runner.checkpoint import load_checkpoint
    model = build_distiller('faster_rcnn', dicod_teacher)
    init_default_scope('mmdet')
    stock = MODELS.build(
        ConfigDict(student_cfg('faster_rcnn'), _scope_='mmdet'))
    state = model.state_dict()
    assert set(state) == set(stock.state_dict())
    stock.load_state_dict(state, strict=True)
    for key, value in stock.state_dict().items():
        assert torch.equal(value, state[key])
    # A stock checkpoint (or the distiller's own) loads back into it.
    path = str(tmp_path / 'stock.pth')
    torch.manual_seed(1)
    stock.init_weights()
    torch.save(dict(state_dict=stock.state_dict()), path)
    load_checkpoint(model, path, strict=True)
    for key, value in stock.state_dict().items():
        assert torch.equal(model.student.state_dict()[key], value)


# ---------------------------------------------------------------- bad input
def _cfg(family, teacher, ckpt, **extra):
    return dict(type='mmext.DICODDistiller', student=student_cfg(family),
                teacher=teacher, teacher_ckpt=ckpt, **extra)


def test_teacher_with_other_classes_is_named(dicod_teacher):
    init_default_scope('mmdet')
    teacher, ckpt = dicod_teacher(num_classes=5)
    with pytest.raises(ValueError) as info:
        MODELS.build(_cfg('faster_rcnn', teacher, ckpt))
    assert 'model.teacher.head.num_classes=5' in str(info.value)
    assert 'model.student.roi_head.bbox_head.num_classes=8' in str(
        info.value)


def test_missing_teacher_checkpoint_is_named(dicod_teacher, tmp_path):
    init_default_scope('mmdet')
    teacher, _ = dicod_teacher()
    with pytest.raises(FileNotFoundError, match='model.teacher_ckpt'):
        MODELS.build(_cfg('retinanet', teacher, str(tmp_path / 'no.pth')))
    with pytest.raises(ValueError, match='model.teacher_ckpt: not set'):
        MODELS.build(_cfg('retinanet', teacher, None))


def test_mismatched_normalisation_names_both_configs(dicod_teacher):
    init_default_scope('mmdet')
    teacher, ckpt = dicod_teacher(std=[1, 1, 1])  # SSD's std, not RetinaNet's
    with pytest.raises(ValueError) as info:
        MODELS.build(_cfg('retinanet', teacher, ckpt))
    message = str(info.value)
    assert 'model.student.data_preprocessor' in message
    assert 'model.teacher.data_preprocessor' in message
    assert 'std=[1, 1, 1]' in message


def test_head_without_positive_assignment_is_named(dicod_teacher):
    from mmext.apis.inference import load_config
    init_default_scope('mmdet')
    teacher, ckpt = dicod_teacher()
    student = load_config('mmdet::fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py'
                          ).model.to_dict()
    student['bbox_head']['num_classes'] = 8
    student['data_preprocessor'].update(mean=teacher['data_preprocessor'][
        'mean'], std=teacher['data_preprocessor']['std'], bgr_to_rgb=True)
    with pytest.raises(ValueError,
                       match=r'model.student.bbox_head: FCOSHead has no'):
        MODELS.build(dict(type='mmext.DICODDistiller', student=student,
                          teacher=teacher, teacher_ckpt=ckpt))


def test_bad_kd_fields_are_named(dicod_teacher):
    init_default_scope('mmdet')
    teacher, ckpt = dicod_teacher()
    with pytest.raises(ValueError, match='kd_cls.T'):
        MODELS.build(_cfg('retinanet', teacher, ckpt, kd_cls=dict(T=0)))
    with pytest.raises(ValueError, match='kd_loc.pool_sizes'):
        MODELS.build(_cfg('retinanet', teacher, ckpt,
                          kd_loc=dict(layers=(-1, 0), pool_sizes=(4, ))))
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match='kd_loc.max_positives'):
            MODELS.build(_cfg('retinanet', teacher, ckpt,
                              kd_loc=dict(max_positives=bad)))
    with pytest.raises(ValueError, match='kd_loc: .*known fields'):
        MODELS.build(_cfg('retinanet', teacher, ckpt,
                          kd_loc=dict(weight=1.0)))
