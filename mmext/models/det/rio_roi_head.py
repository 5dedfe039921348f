"""``mmext.RIORoIHead``: mmdet's ``StandardRoIHead`` with RIO's object-centric
memory replay (Chang et al., "Image-Level or Object-Level? A Tale of Two
Resampling Strategies for Long-Tailed Detection", ICML 2021, arXiv
2104.05702, Sec. 4).

At every training step the box head's RoI features (the output of its last
shared FC layer, after the ReLU) of foreground RoIs assigned to a target
class go through a :class:`~mmext.models.det.memory_bank.ClassMemoryBank`:
the most recent banked entries of the classes present are replayed, then
the batch's are pushed. Replayed entries are detached features, so they
train only the final classification and regression layers (``fc_cls``,
``fc_reg``; a cosine classifier is ``cls_predictor_cfg=dict(
type='NormedLinear', tempearture=48)`` in the box head). They join the
batch's RoIs in the loss with unit weights and their stored box targets.
The mask head is not replayed.

The banks are the module's extra state: they are saved in checkpoints and
restored on resume. Under DDP every rank pushes all ranks' entries (rank
order), so the banks are identical on every rank and equal to those one
process builds from the union batch; each rank replays the classes of its
own batch.
"""
import os.path as osp
from typing import List, Sequence, Tuple, Union

import torch
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.structures.bbox import bbox2roi
from torch import Tensor

from mmext.datasets.lvis_groups import rio_memory_classes_from_file
from mmext.registry import MODELS

from .memory_bank import ClassMemoryBank, empty_bank_state, gather_entries


@MODELS.register_module()
class RIORoIHead(StandardRoIHead):
    """Two-stage RoI head with RIO's memory replay on its box branch.

    Args:
        memory_classes (Sequence[int] | str): Class indices (0-based, the
            detector's) that get a bank, or an LVIS annotation file whose
            rare classes and common classes with at most
            ``memory_common_max_images`` images get one (RIO's choice,
            :func:`mmext.datasets.lvis_groups.rio_memory_classes`).
        memory_capacity (int): Entries kept per class (RIO: 60).
        memory_replay (int): Entries replayed per present class (RIO: 20).
        memory_common_max_images (int): See ``memory_classes``.
        **kwargs: ``StandardRoIHead`` arguments. The box head must be a
            ``ConvFCBBoxHead`` whose branches are only ``fc_cls``/``fc_reg``
            after shared FCs (e.g. ``Shared2FCBBoxHead``), regressing
            encoded deltas (``reg_decoded_bbox=False``).
    """

    def __init__(self,
                 memory_classes: Union[Sequence[int], str],
                 memory_capacity: int = 60,
                 memory_replay: int = 20,
                 memory_common_max_images: int = 30,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        head = self.bbox_head
        plain = (
            getattr(head, 'num_shared_fcs', 0) > 0
            and getattr(head, 'num_shared_convs', 1) == 0
            and getattr(head, 'num_cls_convs', 1) == 0
            and getattr(head, 'num_cls_fcs', 1) == 0
            and getattr(head, 'num_reg_convs', 1) == 0
            and getattr(head, 'num_reg_fcs', 1) == 0)
        if not plain:
            raise ValueError(
                'RIORoIHead replays the features of the box head\'s last '
                'shared FC layer, so bbox_head must be a ConvFCBBoxHead with '
                'shared FCs only (Shared2FCBBoxHead); got '
                f'{type(head).__name__}')
        if head.reg_decoded_bbox:
            raise ValueError('RIORoIHead banks encoded box deltas: set '
                             'bbox_head.reg_decoded_bbox=False')
        self._memory_settings = dict(
            capacity=memory_capacity,
            replay_size=memory_replay,
            common_max_images=memory_common_max_images)
        self._memory_source = memory_classes
        self._feature_dim = head.shared_out_channels
        self._target_dim = head.bbox_coder.encode_size
        self._memory = None
        self._pending_banks = None
        if not isinstance(memory_classes, str):
            self._memory = self._build_memory(memory_classes)

    def _build_memory(self, classes: Sequence[int]) -> ClassMemoryBank:
        head = self.bbox_head
        unknown = [c for c in classes if not 0 <= int(c) < head.num_classes]
        if unknown:
            raise ValueError(
                f'RIORoIHead.memory_classes: {unknown[:10]} are not classes '
                f'of this detector (0..{head.num_classes - 1})')
        return ClassMemoryBank(
            classes,
            feature_dim=self._feature_dim,
            capacity=self._memory_settings['capacity'],
            replay_size=self._memory_settings['replay_size'],
            target_dim=self._target_dim)

    @property
    def memory(self) -> ClassMemoryBank:
        """The banks; classes named by an annotation file are read on first
        use (building the model for inference does not need the file)."""
        if self._memory is None:
            if not osp.isfile(self._memory_source):
                raise FileNotFoundError(
                    f'RIORoIHead.memory_classes: {self._memory_source} not '
                    'found; it is the LVIS training annotation file whose '
                    'rare and small common classes get memory banks (or '
                    'give the class indices as a list)')
            self._memory = self._build_memory(
                rio_memory_classes_from_file(
                    self._memory_source,
                    self._memory_settings['common_max_images']))
            if self._pending_banks is not None:
                self._memory.load_state_dict(self._pending_banks)
                self._pending_banks = None
        return self._memory

    def _forward_with_roi_features(self, x: Tuple[Tensor],
                                   rois: Tensor) -> Tuple[dict, Tensor]:
        """``_bbox_forward`` plus the features ``fc_cls`` saw [R, D],
        detached (they are only banked)."""
        captured = {}
        last_fc = self.bbox_head.shared_fcs[-1]
        handle = last_fc.register_forward_hook(
            lambda module, inputs, output: captured.update(out=output))
        try:
            results = self._bbox_forward(x, rois)
        finally:
            handle.remove()
        # The head's ReLU may run in place on the captured tensor; an
        # out-of-place ReLU gives the same values either way.
        return results, torch.relu(captured['out'].detach())

    def bbox_loss(self, x: Tuple[Tensor],
                  sampling_results: List[SamplingResult]) -> dict:
        """The box loss over the batch's RoIs and the replayed entries."""
        head = self.bbox_head
        rois = bbox2roi([res.priors for res in sampling_results])
        results, features = self._forward_with_roi_features(x, rois)
        labels, label_weights, bbox_targets, bbox_weights = head.get_targets(
            sampling_results, self.train_cfg, concat=True)
        foreground = labels < head.num_classes
        replay_feats, replay_labels, replay_targets = self.memory.step(
            features[foreground], labels[foreground],
            bbox_targets[foreground], gather=gather_entries)
        cls_score, bbox_pred = results['cls_score'], results['bbox_pred']
        if len(replay_feats):
            replay_feats = replay_feats.to(features)
            count = len(replay_feats)
            cls_score = torch.cat((cls_score, head.fc_cls(replay_feats)))
            bbox_pred = torch.cat((bbox_pred, head.fc_reg(replay_feats)))
            labels = torch.cat((labels, replay_labels.to(labels.device)))
            label_weights = torch.cat(
                (label_weights, label_weights.new_ones(count)))
            bbox_targets = torch.cat(
                (bbox_targets, replay_targets.to(bbox_targets)))
            bbox_weights = torch.cat(
                (bbox_weights, bbox_weights.new_ones(count,
                                                     bbox_weights.shape[1])))
            rois = torch.cat((rois, rois.new_zeros(count, rois.shape[1])))
        results['loss_bbox'] = head.loss(cls_score, bbox_pred, rois, labels,
                                         label_weights, bbox_targets,
                                         bbox_weights)
        return results

    def get_extra_state(self) -> Tensor:
        """The banks (:meth:`ClassMemoryBank.state_dict`), stored with the
        weights in checkpoints; no entries while the classes are unread."""
        if self._memory is None:
            return self._pending_banks if self._pending_banks is not None \
                else empty_bank_state(self._feature_dim, self._target_dim)
        return self._memory.state_dict()

    def set_extra_state(self, state: Tensor) -> None:
        """Restore the banks from a checkpoint (kept aside until the banked
        classes are read, so inference does not need the annotation
        file)."""
        if self._memory is None:
            self._pending_banks = state.clone()
        else:
            self._memory.load_state_dict(state)
