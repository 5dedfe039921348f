"""mmdet 3.3.0's SSDHead cannot predict ('SSDHead' object has no attribute
'loss_cls'); importing mmext's detection models fixes it."""
import torch
from mmengine.config import ConfigDict
from mmengine.registry import init_default_scope


def test_ssd_head_predicts_after_mmext_detection_import():
    import mmext.models.det  # noqa: F401  (applies the fix)
    from mmdet.models.dense_heads import SSDHead
    init_default_scope('mmdet')
    head = SSDHead(
        num_classes=3,
        in_channels=(8, 8),
        anchor_generator=dict(type='SSDAnchorGenerator', scale_major=False,
                              strides=[16, 32], min_sizes=[16, 32],
                              max_sizes=[32, 64], ratios=[[2], [2]]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder',
                        target_means=[0.0] * 4,
                        target_stds=[0.1, 0.1, 0.2, 0.2]),
        test_cfg=ConfigDict(nms_pre=100, score_thr=0.0, min_bbox_size=0,
                            nms=dict(type='nms', iou_threshold=0.5),
                            max_per_img=10))
    torch.manual_seed(0)
    features = (torch.rand(1, 8, 4, 4), torch.rand(1, 8, 2, 2))
    cls_scores, bbox_preds = head(features)
    [result] = head.predict_by_feat(
        cls_scores, bbox_preds,
        batch_img_metas=[dict(img_shape=(64, 64), scale_factor=(1.0, 1.0))],
        rescale=False)
    assert result.bboxes.shape[1] == 4 and len(result.bboxes) > 0
    assert set(result.labels.tolist()) <= {0, 1, 2}
    assert head.loss_cls is None
