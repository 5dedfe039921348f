"""A fix for a known breakage of mmdet 3.3.0, applied when mmext's detection
models are imported.

``SSDHead`` skips ``AnchorHead.__init__`` and so never sets ``loss_cls``,
but ``BaseDenseHead._predict_by_feat_single`` reads
``self.loss_cls.custom_cls_channels``: every SSD prediction (validation,
``tools/test.py``, inference) raises ``AttributeError: 'SSDHead' object has
no attribute 'loss_cls'``, reported many times on open-mmlab/mmdetection's
tracker (its fix, pull request 11524, is not released). A class attribute
``loss_cls = None`` answers that lookup as an SSD head means it: no custom
class channels. SSD's own loss computes its cross-entropy directly and never
reads ``loss_cls``.
"""


def fix_ssd_head_loss_cls() -> None:
    """Give mmdet's ``SSDHead`` a ``loss_cls`` of None when it has none."""
    from mmdet.models.dense_heads import SSDHead
    if 'loss_cls' not in vars(SSDHead):
        SSDHead.loss_cls = None
