# RIO (Chang et al., "Image-Level or Object-Level? A Tale of Two Resampling
# Strategies for Long-Tailed Detection", ICML 2021, arXiv 2104.05702) on
# LVIS v0.5 (the paper's): mmdet's Mask R-CNN R-50-FPN LVIS recipe
# (multi-scale, 2x) with both of RIO's resamplings:
# - image level: mmext.RepeatFactorSampler (t = 1e-3, repeats drawn anew
#   each epoch by stochastic rounding) instead of mmdet's
#   ClassBalancedDataset (which rounds the factors up once);
# - object level: mmext.RIORoIHead, per-class banks of 60 RoI features for
#   the rare classes and the common classes with <= 30 images, 20 replayed
#   per present class, a cosine classifier with scale 48 (RIO's).
# Needs data/lvis_v0.5 (mmdet's layout) and the lvis package.
_base_ = 'mmdet::lvis/mask-rcnn_r50_fpn_sample1e-3_ms-2x_lvis-v0.5.py'
custom_imports = dict(imports=['mmext'], allow_failed_imports=False)

lvis_train_ann = 'data/lvis_v0.5/annotations/lvis_v0.5_train.json'
model = dict(
    roi_head=dict(
        type='mmext.RIORoIHead',
        memory_classes=lvis_train_ann,
        memory_capacity=60,
        memory_replay=20,
        memory_common_max_images=30,
        bbox_head=dict(
            cls_predictor_cfg=dict(type='NormedLinear', tempearture=48))))

train_dataloader = dict(
    sampler=dict(
        _delete_=True, type='mmext.RepeatFactorSampler', repeat_thr=1e-3),
    dataset=dict(_delete_=True, **_base_.train_dataloader.dataset.dataset))
# mmdet's LVISMetric, runnable with the PyPI lvis package on numpy >= 1.24.
val_evaluator = dict(type='mmext.LVISMetric')
test_evaluator = val_evaluator
