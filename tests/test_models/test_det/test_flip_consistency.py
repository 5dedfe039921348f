"""mmext.FlipConsistencyDetector (AL-SSL's training wrapper) on three mmdet
families: CSD consistency against a hand-written reference, positives-only
pseudo-labelled images, training steps, stock checkpoint keys, and the
errors that name the field."""
import copy
import math
import uuid

import pytest
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import bbox_overlaps
from mmengine.config import ConfigDict
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

from mmext.registry import MODELS

FAMILIES = ['ssd', 'retinanet', 'faster_rcnn']
RAMP = dict(ramp_up=10, ramp_down_start=20, total=30)


@pytest.fixture
def hub():
    """A fresh current message hub (the ramp reads its iterations)."""
    return MessageHub.get_instance(f'flip-consistency-{uuid.uuid4()}')


def build(tiny_detector_cfg, family: str, **overrides):
    init_default_scope('mmdet')
    cfg = dict(type='mmext.FlipConsistencyDetector',
               detector=tiny_detector_cfg(family), ramp=RAMP)
    cfg.update(overrides)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    if family == 'retinanet':
        # RetinaNet starts at p = 0.01 for every class, where no prior is
        # foreground and the consistency loss is 0; start at p = 0.5.
        torch.nn.init.zeros_(model.detector.bbox_head.retina_cls.bias)
    return model


def sample(side: int, role: str, boxes, labels) -> DetDataSample:
    data_sample = DetDataSample(metainfo=dict(
        img_shape=(side, side), ori_shape=(side, side),
        scale_factor=(1., 1.), al_role=role))
    data_sample.gt_instances = InstanceData(
        bboxes=torch.tensor(boxes, dtype=torch.float32).view(-1, 4),
        labels=torch.tensor(labels, dtype=torch.long))
    return data_sample


def batch(roles=('labelled', 'pseudo', 'unlabelled'), side: int = 128,
          seed: int = 0) -> dict:
    """Random uint8 images with two objects each (none when unlabelled)."""
    generator = torch.Generator().manual_seed(seed)
    samples = []
    for role in roles:
        if role == 'unlabelled':
            samples.append(sample(side, role, [], []))
        else:
            samples.append(sample(side, role, [[10., 12., 60., 70.],
                                               [70., 20., 120., 64.]],
                                  [1, 3]))
    inputs = [torch.randint(0, 256, (3, side, side), dtype=torch.uint8,
                            generator=generator) for _ in roles]
    return dict(inputs=inputs, data_samples=samples)


def losses_of(model, data, training: bool = True) -> dict:
    processed = model.data_preprocessor(copy.deepcopy(data), training)
    return model(**processed, mode='loss')


def reactive(detector):
    """Re-draw the one-stage head's kernels (std 0.3 instead of mmdet's
    0.01), so that its outputs react visibly to what it sees."""
    torch.manual_seed(1)
    with torch.no_grad():
        for module in detector.bbox_head.modules():
            if isinstance(module, torch.nn.Conv2d):
                module.weight.normal_(0, 0.3)
    return detector


def total(value):
    return sum(value) if isinstance(value, list) else value


# ------------------------------------------------------------- consistency
def reference_consistency(cls_scores, bbox_preds, num_images, num_classes,
                          sigmoid):
    """CSD's terms written out prior by prior: anchor a of cell (r, c) in
    the original view against anchor a of cell (r, W - 1 - c) in the
    mirror."""
    kl_terms, loc_terms = [], []
    for cls_map, box_map in zip(cls_scores, bbox_preds):
        height, width = cls_map.shape[-2:]
        channels = num_classes if sigmoid else num_classes + 1
        anchors = cls_map.size(1) // channels
        for image in range(num_images):
            for r in range(height):
                for c in range(width):
                    for a in range(anchors):
                        logits = cls_map[image, a * channels:(a + 1) *
                                         channels, r, c]
                        mirror = cls_map[num_images + image,
                                         a * channels:(a + 1) * channels, r,
                                         width - 1 - c]
                        p, q = (dist(logits, sigmoid),
                                dist(mirror, sigmoid))
                        if p[:-1].max() <= p[-1]:
                            continue
                        kl = (p * (p / q).log()).sum() + \
                            (q * (q / p).log()).sum()
                        kl_terms.append(kl / 2)
                        d = box_map[image, a * 4:(a + 1) * 4, r, c]
                        e = box_map[num_images + image, a * 4:(a + 1) * 4,
                                    r, width - 1 - c]
                        loc_terms.append(torch.stack([
                            (d[0] + e[0])**2, (d[1] - e[1])**2,
                            (d[2] - e[2])**2, (d[3] - e[3])**2
                        ]))
    cls = torch.stack(kl_terms).mean()
    loc = torch.stack(loc_terms).mean(0).mean()
    return cls, loc


def dist(logits, sigmoid):
    """Softmax, or the sigmoids with 'no class' = prod(1 - p), normalised."""
    if not sigmoid:
        return logits.softmax(0)
    p = logits.sigmoid()
    q = torch.cat([p, (1 - p).prod()[None]])
    return q / q.sum()


@pytest.mark.parametrize('family', ['ssd', 'retinanet'])
def test_consistency_matches_a_prior_by_prior_reference(
        family, tiny_detector_cfg, hub):
    model = build(tiny_detector_cfg, family, consistency_weight=0.7)
    model.train()
    hub.update_info('iter', 0)
    hub.update_info('al_cycle_iter', 4)  # wins over 'iter'
    data = batch(('labelled', 'unlabelled'), side=64)
    processed = model.data_preprocessor(copy.deepcopy(data), True)
    losses = model(**processed, mode='loss')

    inputs = processed['inputs']
    with torch.no_grad():
        feats = model.detector.extract_feat(
            torch.cat([inputs, inputs.flip(-1)]))
        cls_scores, bbox_preds = model.detector.bbox_head(feats)
    cls, loc = reference_consistency(cls_scores, bbox_preds, 2, 8,
                                     sigmoid=family == 'retinanet')
    ramp = math.exp(-5 * (1 - 4 / RAMP['ramp_up'])**2)
    assert float(losses['consistency_ramp']) == pytest.approx(ramp)
    torch.testing.assert_close(losses['consistency_cls'], cls)
    torch.testing.assert_close(losses['consistency_loc'], loc)
    torch.testing.assert_close(losses['loss_consistency'].detach(),
                               0.7 * ramp * (cls + loc))


@pytest.mark.parametrize('family', ['ssd', 'retinanet'])
def test_flip_equivariant_detector_has_zero_consistency_loss(
        family, tiny_detector_cfg, local_detector, hub):
    hub.update_info('iter', 15)
    data = batch(('unlabelled', 'unlabelled'))
    model = build(tiny_detector_cfg, family)
    local_detector(reactive(model.detector))
    losses = losses_of(model, data)
    assert float(losses['consistency_cls']) < 1e-6
    assert float(losses['consistency_loc']) < 1e-6
    # The same detector with its kernels left as they are is not.
    model = build(tiny_detector_cfg, family)
    local_detector(reactive(model.detector), symmetric=False)
    losses = losses_of(model, data)
    assert float(losses['consistency_cls']) > 1e-5
    assert float(losses['consistency_loc']) > 1e-5


# --------------------------------------------------------- training steps
@pytest.mark.parametrize('family', FAMILIES)
def test_training_step(family, tiny_detector_cfg, hub):
    model = build(tiny_detector_cfg, family)
    model.train()
    hub.update_info('iter', 15)  # ramp 1
    optim_wrapper = build_optim_wrapper(
        model, dict(type='OptimWrapper',
                    optimizer=dict(type='SGD', lr=0.01, momentum=0.9)))
    before = [p.detach().clone() for p in model.parameters()]
    log_vars = model.train_step(batch(), optim_wrapper)
    assert torch.isfinite(log_vars['loss_consistency'])
    assert float(log_vars['loss_consistency']) > 0
    assert float(log_vars['consistency_ramp']) == 1.0
    supervised = [key for key in log_vars
                  if key.startswith('loss_') and key != 'loss_consistency']
    assert {'loss_cls', 'loss_bbox'} <= set(supervised)
    for key in supervised:
        assert torch.isfinite(log_vars[key]), key
    # The ramp is logged, not summed into the loss.
    summed = sum(log_vars[key] for key in supervised) + \
        log_vars['loss_consistency']
    torch.testing.assert_close(log_vars['loss'], summed)
    assert any(not torch.equal(p, q)
               for p, q in zip(model.parameters(), before))


@pytest.mark.parametrize('family', ['ssd', 'faster_rcnn'])
def test_unlabelled_batch_has_zero_supervised_loss(family, tiny_detector_cfg,
                                                   hub):
    model = build(tiny_detector_cfg, family)
    hub.update_info('iter', 15)
    losses = losses_of(model, batch(('unlabelled', 'unlabelled')))
    assert set(losses) == {'loss_supervised', 'loss_consistency',
                           'consistency_ramp', 'consistency_cls',
                           'consistency_loc'}
    assert float(losses['loss_supervised']) == 0
    (losses['loss_supervised'] + losses['loss_consistency']).backward()
    assert all(p.grad is not None for p in model.parameters())


def test_ramp_at_zero_keeps_the_graph(tiny_detector_cfg, hub):
    model = build(tiny_detector_cfg, 'ssd')
    hub.update_info('iter', 0)
    losses = losses_of(model, batch(('unlabelled', )))
    assert float(losses['loss_consistency']) == 0
    assert losses['loss_consistency'].requires_grad


# ------------------------------------------------- positives-only pseudo
OBJECT_A = [4., 4., 36., 36.]  # labelled in every variant
OBJECT_B = [88., 88., 120., 120.]  # missing from the boxes


def two_object_image(with_b: bool, side: int = 128) -> torch.Tensor:
    generator = torch.Generator().manual_seed(3)
    image = torch.randint(90, 110, (3, side, side), dtype=torch.uint8,
                          generator=generator)
    x1, y1, x2, y2 = (int(v) for v in OBJECT_A)
    image[:, y1:y2, x1:x2] = torch.tensor([250, 30, 30],
                                          dtype=torch.uint8)[:, None, None]
    if with_b:
        x1, y1, x2, y2 = (int(v) for v in OBJECT_B)
        image[:, y1:y2, x1:x2] = torch.tensor(
            [30, 30, 250], dtype=torch.uint8)[:, None, None]
    return image


@pytest.mark.parametrize('family', ['ssd', 'retinanet'])
def test_pseudo_image_trains_its_positives_only(family, tiny_detector_cfg,
                                                local_detector, hub):
    """Object B is missing from the boxes. With a detector whose features
    are local (A's anchors do not see B's pixels), the pseudo-labelled
    image's supervised loss cannot tell whether B is there; the labelled
    one pushes B's anchors to background, so its loss does."""
    model = build(tiny_detector_cfg, family)
    local_detector(reactive(model.detector), symmetric=False)
    hub.update_info('iter', 15)

    def supervised(role: str, with_b: bool) -> dict:
        data = dict(inputs=[two_object_image(with_b)],
                    data_samples=[sample(128, role, [OBJECT_A], [2])])
        losses = losses_of(model, data)
        return {key: total(losses[key]) for key in ('loss_cls', 'loss_bbox')}

    absent, present = supervised('pseudo', False), supervised('pseudo', True)
    for key in absent:
        torch.testing.assert_close(present[key], absent[key], rtol=0,
                                   atol=1e-7)
        assert float(absent[key]) > 0
    labelled_absent = supervised('labelled', False)
    labelled_present = supervised('labelled', True)
    assert not torch.allclose(labelled_present['loss_cls'],
                              labelled_absent['loss_cls'], rtol=1e-3)
    # The positives train alike in both roles.
    torch.testing.assert_close(labelled_absent['loss_bbox'],
                               absent['loss_bbox'])


def _faster_rcnn_hooks(model, gts, target: str):
    """Perturb the RPN outputs at anchors surely negative (IoU < 0.3 with
    every ground truth and no ground truth's best anchor), or the RoI-head
    outputs at the negative rois (IoU < 0.5)."""
    detector = model.detector
    if target == 'rpn':
        head = detector.rpn_head

        def hook(module, args, outputs):
            if outputs[0][0].size(0) != len(gts):
                return outputs  # the consistency path's forward
            cls_scores, bbox_preds = outputs
            sizes = [score.shape[-2:] for score in cls_scores]
            levels = module.prior_generator.grid_priors(
                sizes, device=cls_scores[0].device)
            iou = bbox_overlaps(torch.cat(levels), gts[0])
            best = (iou == iou.max(0, keepdim=True).values).any(1)
            mask = ((iou.max(1).values < 0.3) & ~best).float()
            new_scores = []
            for part, score in zip(mask.split([len(a) for a in levels]),
                                   cls_scores):
                part = part.view(1, *score.shape[-2:], -1).permute(0, 3, 1, 2)
                new_scores.append(score + 3.0 * part *
                                  torch.randn_like(score))
            return new_scores, bbox_preds

        return [(head, hook)]
    seen = {}

    def record_rois(module, args, output):
        seen['rois'] = args[1]

    def roi_hook(module, args, outputs):
        cls_score, bbox_pred = outputs
        rois = seen['rois']
        iou = bbox_overlaps(rois[:, 1:], gts[0]).max(1).values
        mask = (iou < 0.5).float()[:, None]
        return cls_score + 3.0 * mask * torch.randn_like(cls_score), bbox_pred

    return [(detector.roi_head.bbox_roi_extractor, record_rois),
            (detector.roi_head.bbox_head, roi_hook)]


@pytest.mark.parametrize('target', ['rpn', 'roi'])
def test_faster_rcnn_pseudo_image_ignores_negatives(target,
                                                    tiny_detector_cfg, hub):
    model = build(tiny_detector_cfg, 'faster_rcnn')
    model.train()
    hub.update_info('iter', 15)
    key = 'loss_rpn_cls' if target == 'rpn' else 'loss_cls'

    def loss(role: str, perturb: bool):
        data = batch((role, ))
        gts = [s.gt_instances.bboxes for s in data['data_samples']]
        handles = [module.register_forward_hook(hook) for module, hook in (
            _faster_rcnn_hooks(model, gts, target) if perturb else [])]
        try:
            torch.manual_seed(0)  # the same sampling every time
            return total(losses_of(model, data)[key])
        finally:
            for handle in handles:
                handle.remove()

    torch.testing.assert_close(loss('pseudo', True), loss('pseudo', False))
    assert not torch.allclose(loss('labelled', True),
                              loss('labelled', False))


# ------------------------------------------------ modes and checkpoints
def test_predict_and_tensor_modes_are_the_detectors(tiny_detector_cfg):
    model = build(tiny_detector_cfg, 'retinanet')
    model.eval()
    processed = model.data_preprocessor(batch(('labelled', )), False)
    with torch.no_grad():
        ours = model(**processed, mode='predict')
        theirs = model.detector.predict(processed['inputs'],
                                        processed['data_samples'])
        assert torch.equal(ours[0].pred_instances.bboxes,
                           theirs[0].pred_instances.bboxes)
        for a, b in zip(model(**processed, mode='tensor')[0],
                        model.detector._forward(processed['inputs'])[0]):
            assert torch.equal(a, b)


def test_checkpoint_has_the_detectors_own_keys(tiny_detector_cfg,
                                               tmp_path):
    from mmengine.runner.checkpoint import load_checkpoint
    model = build(tiny_detector_cfg, 'faster_rcnn')
    stock = MODELS.build(
        ConfigDict(tiny_detector_cfg('faster_rcnn'), _scope_='mmdet'))
    state = model.state_dict()
    assert set(state) == set(stock.state_dict())
    stock.load_state_dict(state, strict=True)
    path = str(tmp_path / 'stock.pth')
    torch.manual_seed(1)
    stock.init_weights()
    torch.save(dict(state_dict=stock.state_dict()), path)
    load_checkpoint(model, path, strict=True)
    for key, value in stock.state_dict().items():
        assert torch.equal(model.detector.state_dict()[key], value)


# --------------------------------------------------------------- errors
def test_retinanet_anchor_offset_zero_is_named(tiny_detector_cfg, hub):
    cfg = tiny_detector_cfg('retinanet')
    cfg['bbox_head']['anchor_generator']['center_offset'] = 0.
    init_default_scope('mmdet')
    model = MODELS.build(dict(type='mmext.FlipConsistencyDetector',
                              detector=cfg))
    with pytest.raises(ValueError, match=r'model\.detector\.bbox_head\.'
                       r'anchor_generator\.center_offset.*0\.5'):
        losses_of(model, batch(('unlabelled', )))


def test_unsupported_head_is_named():
    from mmext.apis.inference import load_config
    init_default_scope('mmdet')
    detector = load_config('mmdet::fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py'
                           ).model.to_dict()
    detector['backbone']['init_cfg'] = None
    with pytest.raises(ValueError,
                       match=r'model\.detector\.bbox_head: FCOSHead has no'):
        MODELS.build(dict(type='mmext.FlipConsistencyDetector',
                          detector=detector))


def test_bad_settings_are_named(tiny_detector_cfg):
    init_default_scope('mmdet')
    cfg = dict(type='mmext.FlipConsistencyDetector',
               detector=tiny_detector_cfg('ssd'))
    with pytest.raises(ValueError, match='model.data_preprocessor'):
        MODELS.build(dict(cfg, data_preprocessor=dict(
            type='DetDataPreprocessor')))
    with pytest.raises(ValueError, match='model.ramp'):
        MODELS.build(dict(cfg, ramp=dict(ramp_up=10)))
    with pytest.raises(ValueError, match='ramp_up'):
        MODELS.build(dict(cfg, ramp=dict(ramp_up=50, ramp_down_start=20,
                                         total=30)))
    with pytest.raises(ValueError, match='model.consistency_weight'):
        MODELS.build(dict(cfg, consistency_weight=-1))
    model = MODELS.build(cfg)
    with pytest.raises(ValueError, match="'al_role'.*'unknown'"):
        losses_of(model, batch(('unknown', )))
