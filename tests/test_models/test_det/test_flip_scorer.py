"""FlipScorer (AL-SSL's acquisition scores) on three mmdet families: a tiny
Shapes pool, a prior-by-prior reference of the one-stage scores, zero
inconsistency of a flip-equivariant detector, and the errors that name the
field."""
import math

import pytest
import torch
import torchvision
from mmdet.structures import DetDataSample
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

from mmext.models.det import FlipConsistencyDetector, FlipScorer
from mmext.models.det.active_learning import check_scorable
from mmext.registry import MODELS

CLASSES = ('circle', 'square', 'triangle', 'pentagon', 'hexagon', 'star',
           'cross', 'ring')


def build(tiny_detector_cfg, family: str, wrapped: bool = True):
    init_default_scope('mmdet')
    torch.manual_seed(0)
    cfg = tiny_detector_cfg(family)
    if wrapped:
        model = MODELS.build(dict(type='mmext.FlipConsistencyDetector',
                                  detector=cfg))
        detector = model.detector
    else:
        model = detector = MODELS.build(dict(cfg, _scope_='mmdet'))
    model.init_weights()
    if family == 'retinanet':
        torch.nn.init.zeros_(detector.bbox_head.retina_cls.bias)
    return model


def reactive(detector):
    """Re-draw the one-stage head's kernels with std 0.3 (mmdet: 0.01), so
    that its scores spread and react to the image."""
    torch.manual_seed(1)
    with torch.no_grad():
        for module in detector.bbox_head.modules():
            if isinstance(module, torch.nn.Conv2d):
                module.weight.normal_(0, 0.3)
    return detector


def random_batch(num: int = 2, side: int = 128, seed: int = 0) -> dict:
    generator = torch.Generator().manual_seed(seed)
    samples = [
        DetDataSample(metainfo=dict(img_shape=(side, side),
                                    ori_shape=(side, side),
                                    scale_factor=(1., 1.)))
        for _ in range(num)
    ]
    inputs = [torch.randint(0, 256, (3, side, side), dtype=torch.uint8,
                            generator=generator) for _ in samples]
    return dict(inputs=inputs, data_samples=samples)


# -------------------------------------------------------------- the pool
@pytest.fixture
def tiny_pool(shapes_tiny):
    """The first four training images of the tiny Shapes suite, as the
    test pipeline gives them (resized to 128 px)."""
    from mmdet.datasets import CocoDataset
    init_default_scope('mmdet')
    dataset = CocoDataset(
        data_root=shapes_tiny, ann_file='annotations/instances_train.json',
        data_prefix=dict(img='img_dir/train/'), metainfo=dict(
            classes=CLASSES), test_mode=True,
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=(128, 128), keep_ratio=True),
            dict(type='PackDetInputs', meta_keys=('img_id', 'img_path',
                                                  'ori_shape', 'img_shape',
                                                  'scale_factor')),
        ])
    return [dataset[i] for i in range(4)]


@pytest.mark.parametrize('family', ['ssd', 'retinanet', 'faster_rcnn'])
def test_scores_a_tiny_pool(family, tiny_detector_cfg, tiny_pool):
    model = build(tiny_detector_cfg, family)
    model.train()
    scorer = FlipScorer(model, score_thr=0.1)
    scores = []
    for start in (0, 2):
        scores += scorer(pseudo_collate(tiny_pool[start:start + 2]))
    assert model.training and model.detector.training  # mode restored
    assert len(scores) == 4
    for image in scores:
        assert set(image) == {'entropy', 'inconsistency', 'num_boxes'}
        assert isinstance(image['num_boxes'], int)
        assert image['num_boxes'] > 0
        assert 0 < image['entropy'] <= 1 + 1e-6
        assert math.isfinite(image['inconsistency'])
        assert image['inconsistency'] >= 0
    # No box reaches score 1: every image scores 0.
    for image in scorer.__class__(model, score_thr=1.0)(
            pseudo_collate(tiny_pool[:2])):
        assert image == dict(entropy=0., inconsistency=0., num_boxes=0)


def test_two_stage_unmatched_boxes_use_the_mirrored_box(tiny_detector_cfg,
                                                        tiny_pool):
    model = build(tiny_detector_cfg, 'faster_rcnn')
    data = pseudo_collate(tiny_pool[:2])
    matched = FlipScorer(model, score_thr=0.1)(data)
    # match_iou > 1: no pair is ever matched, every box falls back to the
    # mirror's distribution at its mirrored box.
    fallback = FlipScorer(model, score_thr=0.1, match_iou=1.01)(data)
    for a, b in zip(matched, fallback):
        assert a['entropy'] == b['entropy']
        assert a['num_boxes'] == b['num_boxes']
        assert math.isfinite(b['inconsistency']) and b['inconsistency'] >= 0


# -------------------------------------------------- one-stage reference
def dist(logits, sigmoid):
    """Softmax, or the sigmoids with 'no class' = prod(1 - p), normalised."""
    if not sigmoid:
        return logits.softmax(0)
    p = logits.sigmoid()
    q = torch.cat([p, (1 - p).prod()[None]])
    return q / q.sum()


def reference_scores(detector, inputs, img_shapes, score_thr, nms_iou,
                     max_per_class):
    """The one-stage scores written out: per prior (r, c, a) its mirror
    (r, W - 1 - c, a), per class torchvision NMS, max over the boxes."""
    head = detector.bbox_head
    sigmoid = bool(head.use_sigmoid_cls)
    channels = head.cls_out_channels
    num = inputs.size(0)
    with torch.no_grad():
        feats = detector.extract_feat(torch.cat([inputs, inputs.flip(-1)]))
        cls_scores, bbox_preds = head(feats)
    sizes = [score.shape[-2:] for score in cls_scores]
    levels = head.prior_generator.grid_priors(sizes, device='cpu')
    results = []
    for image in range(num):
        probs, mirror_probs, deltas, priors = [], [], [], []
        for cls_map, box_map, level in zip(cls_scores, bbox_preds, levels):
            height, width = cls_map.shape[-2:]
            anchors = cls_map.size(1) // channels
            level = level.view(height, width, anchors, 4)
            for r in range(height):
                for c in range(width):
                    for a in range(anchors):
                        part = slice(a * channels, (a + 1) * channels)
                        probs.append(dist(cls_map[image, part, r, c],
                                          sigmoid))
                        mirror_probs.append(
                            dist(cls_map[num + image, part, r,
                                         width - 1 - c], sigmoid))
                        deltas.append(box_map[image, a * 4:a * 4 + 4, r, c])
                        priors.append(level[r, c, a])
        probs, mirror_probs = torch.stack(probs), torch.stack(mirror_probs)
        boxes = head.bbox_coder.decode(torch.stack(priors),
                                       torch.stack(deltas),
                                       max_shape=img_shapes[image])
        entropies, kls = [], []
        for cls in range(probs.size(1) - 1):
            rows = torch.nonzero(probs[:, cls] >= score_thr).flatten()
            keep = torchvision.ops.nms(boxes[rows], probs[rows, cls],
                                       nms_iou)[:max_per_class]
            for row in rows[keep]:
                p, q = probs[row], mirror_probs[row]
                # 0 log 0 = 0; the KL's logs clamped at 1e-12.
                entropies.append(-torch.special.xlogy(p, p).sum() /
                                 math.log(len(p)))
                log_p, log_q = p.clamp_min(1e-12).log(), q.clamp_min(
                    1e-12).log()
                kls.append(((p * (log_p - log_q)).sum() +
                            (q * (log_q - log_p)).sum()) / 2)
        results.append(dict(
            entropy=float(max(entropies)) if entropies else 0.,
            inconsistency=float(max(kls)) if kls else 0.,
            num_boxes=len(entropies)))
    return results


@pytest.mark.parametrize('family,score_thr', [('ssd', 0.4),
                                              ('retinanet', 0.2)])
def test_one_stage_scores_match_a_reference(family, score_thr,
                                            tiny_detector_cfg):
    model = build(tiny_detector_cfg, family, wrapped=False)
    reactive(model)
    model.eval()
    data = random_batch()
    scorer = FlipScorer(model, score_thr=score_thr, nms_iou=0.5,
                        max_per_class=5)
    ours = scorer(data)
    processed = model.data_preprocessor(data, False)
    theirs = reference_scores(
        model, processed['inputs'],
        [s.metainfo['img_shape'] for s in processed['data_samples']],
        score_thr, 0.5, 5)
    for a, b in zip(ours, theirs):
        assert b['num_boxes'] > 0
        assert a['num_boxes'] == b['num_boxes']
        assert a['entropy'] == pytest.approx(b['entropy'], abs=1e-5)
        assert a['inconsistency'] == pytest.approx(b['inconsistency'],
                                                   abs=1e-5)


# -------------------------------------------------------- equivariance
@pytest.mark.parametrize('family,score_thr', [('ssd', 0.4),
                                              ('retinanet', 0.2)])
def test_flip_equivariant_detector_has_zero_inconsistency(
        family, score_thr, tiny_detector_cfg, local_detector):
    data = random_batch()
    equivariant = local_detector(reactive(build(tiny_detector_cfg, family,
                                                wrapped=False)))
    for image in FlipScorer(equivariant, score_thr=score_thr)(data):
        assert image['num_boxes'] > 0
        assert image['inconsistency'] < 1e-6
    ordinary = reactive(build(tiny_detector_cfg, family, wrapped=False))
    scores = FlipScorer(ordinary, score_thr=score_thr)(data)
    assert all(image['num_boxes'] > 0 for image in scores)
    assert all(image['inconsistency'] > 1e-4 for image in scores)


# --------------------------------------------------------------- errors
def test_anchor_offset_zero_is_named(tiny_detector_cfg):
    cfg = tiny_detector_cfg('retinanet')
    cfg['bbox_head']['anchor_generator']['center_offset'] = 0.
    init_default_scope('mmdet')
    model = MODELS.build(dict(type='mmext.FlipConsistencyDetector',
                              detector=cfg))
    assert isinstance(model, FlipConsistencyDetector)
    with pytest.raises(ValueError, match=r'model\.detector\.bbox_head\.'
                       r'anchor_generator\.center_offset'):
        FlipScorer(model)(random_batch())
    # A generous tolerance accepts the one-stride offset.
    FlipScorer(model, mirror_tolerance=1.0)(random_batch())


def test_stock_ssd300_needs_a_larger_tolerance():
    """SSD300's stride-32 and -64 grids span 320 px of the 300 px input:
    the reference pairs anchors 0.62 strides from their mirrors."""
    from mmext.apis.inference import load_config
    from mmext.models.det.active_learning.views import check_mirrored_priors
    init_default_scope('mmdet')
    head = MODELS.build(dict(
        load_config('mmdet::ssd/ssd300_coco.py').model.bbox_head.to_dict(),
        _scope_='mmdet'))
    sizes = [(38, 38), (19, 19), (10, 10), (5, 5), (3, 3), (1, 1)]
    with pytest.raises(ValueError, match=r'anchor_generator: the anchors '
                       r'of level 2 \(stride 32 px\).*0\.62 strides'):
        check_mirrored_priors(head, sizes, 300)
    priors = check_mirrored_priors(head, sizes, 300, tolerance=0.63)
    assert priors.shape == (8732, 4)


def test_unscorable_head_is_named():
    from mmext.apis.inference import load_config
    init_default_scope('mmdet')
    cfg = load_config('mmdet::fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py'
                      ).model.to_dict()
    cfg['backbone']['init_cfg'] = None
    detector = MODELS.build(dict(cfg, _scope_='mmdet'))
    with pytest.raises(ValueError, match=r'model\.bbox_head: FCOSHead'):
        FlipScorer(detector)
    with pytest.raises(ValueError, match=r'model\.bbox_head: FCOSHead'):
        check_scorable(detector)
    with pytest.raises(ValueError, match=r'model\.detector\.bbox_head'):
        check_scorable(detector, 'model.detector')


@pytest.mark.parametrize('family', ['ssd', 'faster_rcnn'])
def test_check_scorable_accepts_the_wrapper(family, tiny_detector_cfg):
    model = build(tiny_detector_cfg, family)
    check_scorable(model)
    check_scorable(model.detector)
