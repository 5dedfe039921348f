"""Any mmdet detector trained the AL-SSL way: supervised on the labelled
and pseudo-labelled images, flip-consistent on all.

Elezi et al., "Not All Labels Are Equal: Rationalizing the Labeling Costs
for Training Object Detection", CVPR 2022 (arXiv 2106.11921), train every
active-learning cycle with the consistency loss of CSD (Jeong et al.,
NeurIPS 2019): the detector's class distributions and box deltas on an
image and on its horizontal mirror must agree (the mirror's ``dx`` with
the opposite sign), on every prior whose original-view distribution is
foreground; the weight of the term ramps up and down over training.

The reference code does this for SSD300 only; here the wrapped detector is
any stock mmdet one-stage anchor-head detector (SSD, RetinaNet, ...) or a
two-stage detector with a ``StandardRoIHead`` (Faster R-CNN, ...).
"""
import contextlib
import copy
from typing import Dict, List, Optional, Sequence

import torch
from mmdet.structures import DetDataSample
from mmengine.config import ConfigDict
from mmengine.logging import MessageHub
from torch import Tensor

from mmext.active_learning import csd_consistency, csd_ramp
from mmext.models.utils import keep_wrapped_keys, patched_method
from mmext.registry import MODELS
from ..wrapped_detector import WrappedDetector
from .checks import check_scorable, is_two_stage
from .pseudo_positives import (image_roles, positives_only_anchor_targets,
                               positives_only_roi_targets)
from .views import anchor_head_views, roi_head_views

#: The reference schedule: up over 32k iterations, down from 100k to 120k.
DEFAULT_RAMP = dict(ramp_up=32000, ramp_down_start=100000, total=120000)


def current_step() -> int:
    """The iteration the consistency ramp reads: the message hub's
    ``'al_cycle_iter'`` (the iteration within the active-learning cycle,
    set by the loop) or else its ``'iter'`` (0 outside a runner)."""
    hub = MessageHub.get_current_instance()
    step = hub.get_info('al_cycle_iter', None)
    if step is None:
        step = hub.get_info('iter', 0)
    return int(step)


@MODELS.register_module()
class FlipConsistencyDetector(WrappedDetector):
    """A stock mmdet detector with AL-SSL's training losses.

    ``loss`` runs the backbone and neck once on the batch and its mirror;
    the detector's own losses on the images whose
    ``metainfo['al_role']`` is ``'labelled'`` (the default) or
    ``'pseudo'`` (positives only, see
    :mod:`~mmext.models.det.active_learning.pseudo_positives`), plus
    ``loss_consistency`` on every image, ``'unlabelled'`` ones included.
    ``predict`` and ``tensor`` are the wrapped detector's alone, and a
    checkpoint holds the wrapped detector's own keys, so the stock mmdet
    config loads it.

    Args:
        detector: A stock mmdet detector config: one-stage with an
            ``AnchorHead``-family head (``SSDHead``, ``RetinaHead``...) or
            two-stage with a ``StandardRoIHead``. Unscoped types are read in
            mmdet's scope; its ``data_preprocessor`` is the model's.
        consistency_weight: Weight of the consistency term (the reference:
            1).
        ramp: :func:`mmext.active_learning.csd_ramp` fields ``ramp_up``,
            ``ramp_down_start``, ``total`` in iterations.
        mirror_tolerance: How far (in strides) an anchor may be from its
            mirror's (one-stage heads; see :func:`.views.check_mirrored_priors`
            ) or a RoI feature map's span from the padded width
            (two-stage).
        data_preprocessor: Must be None: set it inside ``detector``.
        init_cfg: MMEngine initialisation config of the wrapper.

    Assumption: for two-stage detectors the consistency is applied to the
    RoI head only, on the original view's proposals (detached, from the
    RPN with ``train_cfg.rpn_proposal``) and their mirrors; the RPN is
    trained by its supervised loss alone.
    """

    def __init__(self,
                 detector: dict,
                 consistency_weight: float = 1.0,
                 ramp: dict = DEFAULT_RAMP,
                 mirror_tolerance: float = 0.5,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is not None:
            raise ValueError('model.data_preprocessor: set it inside '
                             'model.detector; the wrapper uses the '
                             'detector\'s')
        if not consistency_weight >= 0:
            raise ValueError('model.consistency_weight: must be >= 0, got '
                             f'{consistency_weight}')
        if not mirror_tolerance >= 0:
            raise ValueError('model.mirror_tolerance: must be >= 0, got '
                             f'{mirror_tolerance}')
        ramp = dict(ramp)
        try:
            csd_ramp(0, **ramp)
        except TypeError as exc:
            raise ValueError(f'model.ramp: {exc}; expected the fields '
                             f'{list(DEFAULT_RAMP)}') from None
        super().__init__(init_cfg=init_cfg)
        # ConfigDict: mmdet's detectors read train_cfg.rpn as attributes.
        cfg = ConfigDict(copy.deepcopy(dict(detector)))
        cfg.setdefault('_scope_', 'mmdet')
        self.detector = MODELS.build(cfg)
        check_scorable(self.detector, 'model.detector')
        self.data_preprocessor = self.detector.data_preprocessor
        self.consistency_weight = float(consistency_weight)
        self.ramp = ramp
        self.mirror_tolerance = float(mirror_tolerance)
        keep_wrapped_keys(self, 'detector')

    def loss(self, inputs: Tensor,
             data_samples: List[DetDataSample]) -> Dict[str, Tensor]:
        """Supervised losses plus ``loss_consistency``.

        Args:
            inputs: ``[B, 3, H, W]`` normalised, padded images.
            data_samples: Their metainfo (``'al_role'``) and, for labelled
                and pseudo-labelled images, ``gt_instances`` in pixels of
                ``inputs``.

        Returns:
            The wrapped detector's losses on the labelled and pseudo images
            (``loss_supervised``, a graph-attached 0, when there are none),
            ``loss_consistency``, and the logged non-losses
            ``consistency_ramp``, ``consistency_cls`` and
            ``consistency_loc`` (unweighted terms).
        """
        roles = image_roles(data_samples)
        feats = self.detector.extract_feat(
            torch.cat([inputs, inputs.flip(-1)]))
        supervised = [
            i for i, role in enumerate(roles) if role != 'unlabelled'
        ]
        if supervised:
            losses = self._supervised_losses(inputs, data_samples, feats,
                                             supervised, roles)
        else:
            losses = dict(loss_supervised=self._zero())
        cls_term, loc_term = self._consistency_terms(inputs, data_samples,
                                                     feats)
        ramp = csd_ramp(current_step(), **self.ramp)
        losses['loss_consistency'] = self.consistency_weight * ramp * (
            cls_term + loc_term)
        losses['consistency_ramp'] = inputs.new_tensor(ramp)
        losses['consistency_cls'] = cls_term.detach()
        losses['consistency_loc'] = loc_term.detach()
        return losses

    def _zero(self) -> Tensor:
        """0 attached to every trainable parameter."""
        return sum(param.sum() for param in self.detector.parameters()
                   if param.requires_grad) * 0.

    def _supervised_losses(self, inputs: Tensor,
                           data_samples: Sequence[DetDataSample],
                           feats: Sequence[Tensor], supervised: List[int],
                           roles: Sequence[str]) -> Dict[str, Tensor]:
        """The detector's own ``loss`` on the ``supervised`` images, fed
        their already computed original-view features."""
        num_images = inputs.size(0)
        if len(supervised) == num_images:
            index = slice(0, num_images)
        else:
            index = torch.as_tensor(supervised, device=inputs.device)
        sub_feats = tuple(level[index] for level in feats)
        sub_roles = [roles[i] for i in supervised]
        detector = self.detector
        with contextlib.ExitStack() as stack:
            stack.enter_context(
                patched_method(detector, 'extract_feat',
                               lambda method: lambda batch_inputs: sub_feats))
            if is_two_stage(detector):
                stack.enter_context(
                    positives_only_anchor_targets(detector.rpn_head))
                stack.enter_context(
                    positives_only_roi_targets(detector.roi_head.bbox_head,
                                               sub_roles))
            else:
                stack.enter_context(
                    positives_only_anchor_targets(detector.bbox_head))
            return detector.loss(inputs[index],
                                 [data_samples[i] for i in supervised])

    def _consistency_terms(self, inputs: Tensor,
                           data_samples: Sequence[DetDataSample],
                           feats: Sequence[Tensor]) -> tuple:
        """CSD's ``(cls, loc)`` terms over the whole batch."""
        num_images, pad_width = inputs.size(0), inputs.size(-1)
        detector = self.detector
        if not is_two_stage(detector):
            views = anchor_head_views(detector.bbox_head, feats, num_images,
                                      pad_width, self.mirror_tolerance,
                                      'model.detector.bbox_head')
            return csd_consistency(views.probs.flatten(0, 1),
                                   views.flipped_probs.flatten(0, 1),
                                   views.deltas.flatten(0, 1),
                                   views.flipped_deltas.flatten(0, 1))
        originals = tuple(level[:num_images] for level in feats)
        mirrors = tuple(level[num_images:] for level in feats)
        with torch.no_grad():
            rpn_outputs = detector.rpn_head(originals)
            proposal_cfg = detector.train_cfg.get('rpn_proposal',
                                                  detector.test_cfg.rpn)
            proposals = detector.rpn_head.predict_by_feat(
                *rpn_outputs,
                batch_img_metas=[sample.metainfo for sample in data_samples],
                cfg=proposal_cfg,
                rescale=False)
        boxes = [proposal.bboxes.detach() for proposal in proposals]
        return csd_consistency(*roi_head_views(
            detector.roi_head, originals, mirrors, boxes, pad_width,
            self.mirror_tolerance, 'model.detector'))
