"""Panoptic SegFormer's head for mmdet 3.x.

Li et al., "Panoptic SegFormer: Delving Deeper into Panoptic Segmentation
with Transformers", CVPR 2022 (arXiv 2109.03814).

The head extends mmdet's Deformable DETR head (the location decoder's
class and box branches and their losses) with

* the query filter: on the last location layer, up to
  ``max_positives_per_gt`` queries per thing (repeated Hungarian matching)
  go on to the thing mask decoder;
* a thing mask decoder (no self-attention) and a stuff mask decoder (with
  self-attention) over one fixed query per stuff class; masks come from the
  attention maps (:mod:`.mask_decoder`);
* dice losses on every decoder layer's masks, a binary focal "present" loss
  per stuff query, and the thing/stuff loss balance by ground-truth counts;
* mask-wise merging at inference (:mod:`.merging`).

Defaults follow the official code where it departs from the paper; the
switches and the departures are listed in ``configs/panoptic_segformer``.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmdet.models.dense_heads import DeformableDETRHead
from mmdet.registry import MODELS as MMDET_MODELS
from mmdet.registry import TASK_UTILS
from mmdet.structures.bbox import bbox_cxcywh_to_xyxy
from mmdet.utils import reduce_mean
from mmengine.model import bias_init_with_prob
from mmengine.structures import InstanceData
from torch import Tensor, nn

from mmext.registry import MODELS
from mmext.structures.panoptic import INSTANCE_OFFSET

from .mask_decoder import MaskDecoder
from .merging import merge_masks
from .query_filter import repeated_hungarian

DEFAULT_MERGE_CFG = dict(
    max_per_img=100, thing_score_thr=0.25, stuff_score_thr=0.25,
    thing_overlap_thr=0.4, stuff_overlap_thr=0.2, mask_thr=0.5, alpha=1.0,
    beta=2.0)


def _stuff_targets(sem_seg: Tensor, num_things: int,
                   num_stuff: int) -> Tensor:
    """``[S, H, W]`` float masks of each stuff class in a semantic map.

    Args:
        sem_seg: ``[1, H, W]`` or ``[H, W]`` labels (things ``0..T-1``,
            stuff ``T..T+S-1``, anything else ignored).
        num_things: ``T``.
        num_stuff: ``S``.
    """
    labels = torch.arange(num_things, num_things + num_stuff,
                          device=sem_seg.device)
    return (sem_seg.reshape(1, *sem_seg.shape[-2:]) ==
            labels[:, None, None]).float()


def _check_panoptic_targets(sample) -> None:
    """Raise if a training sample lacks what the losses read.

    Thing masks and the semantic map must be padded to the batch shape,
    because targets are resized from it onto the stride-8 mask grid.
    """
    if 'gt_sem_seg' not in sample or 'masks' not in sample.gt_instances:
        raise KeyError(
            'batch_data_samples: Panoptic SegFormer trains on thing masks '
            '(gt_instances.masks) and a semantic map (gt_sem_seg); load them '
            "with dict(type='mmext.LoadPanopticAnnotations') (with_mask and "
            'with_seg on) before PackDetInputs')
    batch_shape = tuple(sample.metainfo['batch_input_shape'])
    shapes = {'gt_sem_seg': tuple(sample.gt_sem_seg.sem_seg.shape[-2:])}
    if len(sample.gt_instances):
        shapes['gt_instances.masks'] = (sample.gt_instances.masks.height,
                                        sample.gt_instances.masks.width)
    for name, shape in shapes.items():
        if shape != batch_shape:
            raise ValueError(
                f'{name}: {shape} is not the padded batch shape '
                f'{batch_shape}; set data_preprocessor.pad_mask=True and '
                'pad_seg=True (DetDataPreprocessor) so that targets are '
                'padded like the images')


def _layer_key(name: str, layer: int, num_layers: int) -> str:
    """Loss key of a decoder layer: ``name`` for the last (the final
    prediction), ``d{layer}.name`` for earlier ones (mmdet's naming)."""
    return name if layer == num_layers - 1 else f'd{layer}.{name}'


def _mean_over_ranks(count: int, like: Tensor) -> float:
    """``count`` averaged over DDP ranks (itself without DDP)."""
    return float(reduce_mean(like.new_tensor(float(count))))


def _resize(masks: Tensor, size: Tuple[int, int]) -> Tensor:
    """Bilinear resize of ``[..., H, W]`` masks to ``size``."""
    if tuple(masks.shape[-2:]) == tuple(size):
        return masks
    lead = masks.shape[:-2]
    flat = masks.reshape(-1, 1, *masks.shape[-2:])
    out = F.interpolate(flat, size=size, mode='bilinear', align_corners=False)
    return out.reshape(*lead, *size)


@MODELS.register_module()
class PanopticSegFormerHead(DeformableDETRHead):
    """Location-decoder branches, mask decoders, losses and merging.

    Built by :class:`mmext.PanopticSegFormer` (which sets
    ``share_pred_layer``, ``num_pred_layer`` and ``as_two_stage``).

    Args:
        num_things_classes: Thing classes ``T`` (labels ``0..T-1``).
        num_stuff_classes: Stuff classes ``S`` (labels ``T..T+S-1``); one
            fixed query each.
        thing_decoder_layers: Thing mask-decoder layers (official 4).
        stuff_decoder_layers: Stuff mask-decoder layers (official 6).
        mask_num_heads: Heads of the mask decoders.
        mask_ffn_dims: FFN width of the mask decoders.
        num_mask_levels: Finest encoder levels the masks are read from (3).
        max_positives_per_gt: Query-filter rounds (official 3).
        loss_mask: Dice loss config (on the raw ReLU masks).
        loss_stuff_cls: Binary focal loss of the stuff queries. Its weight is
            4.0: the official code doubles the configured 2.0.
        balance_thing_stuff: Weight thing losses by ``T_gt / (T_gt + S_gt)``
            and stuff losses by ``S_gt / (T_gt + S_gt)`` (batch counts,
            averaged over ranks), as the official code does.
        shared_mask_decoder: The paper's single mask decoder for thing and
            stuff queries together (``stuff_decoder_layers`` layers with
            self-attention). False (official code): two decoders.
        thing_cls_source: ``'location'`` (official code): thing classes come
            from the location decoder and the mask decoder only predicts
            masks. ``'mask'`` (paper): the thing mask decoder classifies
            every layer's queries (focal loss weighted as ``loss_cls``) and
            inference ranks all queries by those classes.
        **kwargs: :class:`mmdet.models.DeformableDETRHead` arguments
            (``embed_dims``, ``loss_cls``, ``loss_bbox``, ``loss_iou``,
            ``train_cfg`` with ``assigner`` and ``mask_assigner``,
            ``test_cfg`` with the merging thresholds).
    """

    def __init__(self,
                 *args,
                 num_things_classes: int = 80,
                 num_stuff_classes: int = 53,
                 thing_decoder_layers: int = 4,
                 stuff_decoder_layers: int = 6,
                 mask_num_heads: int = 8,
                 mask_ffn_dims: int = 1024,
                 num_mask_levels: int = 3,
                 max_positives_per_gt: int = 3,
                 loss_mask: Dict = dict(
                     type='DiceLoss', use_sigmoid=False, activate=False,
                     naive_dice=False, eps=1e-6, loss_weight=2.0),
                 loss_stuff_cls: Dict = dict(
                     type='FocalLoss', use_sigmoid=True, gamma=2.0,
                     alpha=0.25, loss_weight=4.0),
                 balance_thing_stuff: bool = True,
                 shared_mask_decoder: bool = False,
                 thing_cls_source: str = 'location',
                 **kwargs) -> None:
        if kwargs.setdefault('num_classes', num_things_classes) != \
                num_things_classes:
            raise ValueError(
                f"num_classes: the location decoder classifies things only; "
                f"set it to num_things_classes ({num_things_classes}) or "
                f"leave it out, got {kwargs['num_classes']}")
        if max_positives_per_gt < 1:
            raise ValueError('max_positives_per_gt: expected >= 1, got '
                             f'{max_positives_per_gt}')
        if thing_cls_source not in ('location', 'mask'):
            raise ValueError("thing_cls_source: expected 'location' (the "
                             "official code) or 'mask' (the paper), got "
                             f'{thing_cls_source!r}')
        self.shared_mask_decoder = shared_mask_decoder
        self.thing_cls_source = thing_cls_source
        self.num_things_classes = num_things_classes
        self.num_stuff_classes = num_stuff_classes
        self.thing_decoder_layers = thing_decoder_layers
        self.stuff_decoder_layers = stuff_decoder_layers
        self.mask_num_heads = mask_num_heads
        self.mask_ffn_dims = mask_ffn_dims
        self.num_mask_levels = num_mask_levels
        self.max_positives_per_gt = max_positives_per_gt
        self.balance_thing_stuff = balance_thing_stuff
        train_cfg = kwargs.get('train_cfg') or {}
        super().__init__(*args, **kwargs)
        if train_cfg:
            if 'mask_assigner' not in train_cfg:
                raise KeyError('train_cfg.mask_assigner: missing; add the '
                               'HungarianAssigner with the DiceCost that '
                               'matches filtered queries to things')
            self.mask_assigner = TASK_UTILS.build(train_cfg['mask_assigner'])
        self.loss_mask = MMDET_MODELS.build(loss_mask)
        self.loss_stuff_cls = MMDET_MODELS.build(loss_stuff_cls)
        self.merge_cfg = {**DEFAULT_MERGE_CFG, **(self.test_cfg or {})}

    def _init_layers(self) -> None:
        super()._init_layers()
        dims = self.embed_dims
        self.stuff_query = nn.Embedding(self.num_stuff_classes, dims * 2)
        if self.shared_mask_decoder:
            self.thing_decoder_layers = self.stuff_decoder_layers
        else:
            self.thing_mask_decoder = MaskDecoder(
                self.thing_decoder_layers, dims, self.mask_num_heads,
                self.mask_ffn_dims, self_attn=False,
                num_levels=self.num_mask_levels)
        if self.thing_cls_source == 'mask':
            self.thing_cls_branches = nn.ModuleList(
                nn.Linear(dims, self.num_things_classes)
                for _ in range(self.thing_decoder_layers))
        self.stuff_mask_decoder = MaskDecoder(
            self.stuff_decoder_layers, dims, self.mask_num_heads,
            self.mask_ffn_dims, self_attn=True,
            num_levels=self.num_mask_levels)
        self.stuff_cls_branches = nn.ModuleList(
            nn.Linear(dims, 1) for _ in range(self.stuff_decoder_layers))

    def init_weights(self) -> None:
        super().init_weights()
        bias = bias_init_with_prob(0.01)
        for branch in [*self.stuff_cls_branches,
                       *getattr(self, 'thing_cls_branches', [])]:
            nn.init.constant_(branch.bias, bias)

    def forward(self, hidden_states: Tensor, references: List[Tensor],
                **unused) -> Tuple[Tensor, Tensor]:
        """Location-decoder class logits and boxes of every layer.

        Returns:
            ``([D, B, Q, T] logits, [D, B, Q, 4] normalised cxcywh boxes)``.
        """
        return super().forward(hidden_states, references)

    # ------------------------------------------------------------------
    # shared pieces
    # ------------------------------------------------------------------
    def _mask_memory(self, memory: Tensor, memory_mask: Optional[Tensor],
                     spatial_shapes: Tensor
                     ) -> Tuple[Tensor, Optional[Tensor], List[Tuple]]:
        """Tokens of the finest ``num_mask_levels`` levels.

        Returns:
            ``([B, L', C] memory, [B, L'] padding or None, level shapes)``.
        """
        shapes = [tuple(s) for s in
                  spatial_shapes[:self.num_mask_levels].tolist()]
        tokens = sum(h * w for h, w in shapes)
        padding = None if memory_mask is None else memory_mask[:, :tokens]
        return memory[:, :tokens], padding, shapes

    def _decode_masks(self, thing_query: Tensor,
                      thing_padding: Optional[Tensor], memory: Tensor,
                      padding: Optional[Tensor], shapes: List[Tuple]
                      ) -> Tuple[List[Tensor], List[Tensor], List[Tensor],
                                 List[Tensor]]:
        """Run the mask decoder(s) on thing queries and the stuff queries.

        Args:
            thing_query: ``[B, N, C]`` location-decoder states.
            thing_padding: ``[B, N]`` bool, True on padding, or None.
            memory, padding, shapes: From :meth:`_mask_memory`.

        Returns:
            ``(thing_states, thing_masks, stuff_logits, stuff_masks)``:
            per layer ``[B, N, C]`` states and ``[B, S]`` presence logits,
            and per layer plus the tail ``[B, N | S, h, w]`` masks.
        """
        batch, num_things = thing_query.shape[:2]
        stuff_query, stuff_pos = self.stuff_query.weight.split(
            self.embed_dims, dim=1)
        stuff_query = stuff_query[None].expand(batch, -1, -1)
        stuff_pos = stuff_pos[None].expand(batch, -1, -1)
        if self.shared_mask_decoder:
            if thing_padding is None:
                thing_padding = thing_query.new_zeros(
                    batch, num_things, dtype=torch.bool)
            states, masks = self.stuff_mask_decoder(
                torch.cat([thing_query, stuff_query], 1),
                torch.cat([torch.zeros_like(thing_query), stuff_pos], 1),
                memory, shapes, padding,
                F.pad(thing_padding, (0, self.num_stuff_classes)))
            thing_states = [x[:, :num_things] for x in states]
            thing_masks = [x[:, :num_things] for x in masks]
            stuff_states = [x[:, num_things:] for x in states]
            stuff_masks = [x[:, num_things:] for x in masks]
        else:
            thing_states, thing_masks = self.thing_mask_decoder(
                thing_query, None, memory, shapes, padding, thing_padding)
            stuff_states, stuff_masks = self.stuff_mask_decoder(
                stuff_query, stuff_pos, memory, shapes, padding)
        stuff_logits = [branch(x).squeeze(-1) for branch, x in
                        zip(self.stuff_cls_branches, stuff_states)]
        return thing_states, thing_masks, stuff_logits, stuff_masks

    @staticmethod
    def _pred_instances(cls_score: Tensor, box: Tensor, img_meta: dict,
                        masks: Optional[Tensor] = None) -> InstanceData:
        """Predictions in the assigner's format (pixel xyxy boxes)."""
        img_h, img_w = img_meta['img_shape']
        factor = box.new_tensor([img_w, img_h, img_w, img_h])
        pred = InstanceData(scores=cls_score,
                            bboxes=bbox_cxcywh_to_xyxy(box) * factor)
        if masks is not None:
            pred.masks = masks
        return pred

    @staticmethod
    def _cost(assigner, pred: InstanceData, gt: InstanceData,
              img_meta: dict) -> Tensor:
        """The assigner's summed match cost ``[num_pred, num_gt]``."""
        return torch.stack([
            cost(pred_instances=pred, gt_instances=gt, img_meta=img_meta)
            for cost in assigner.match_costs
        ]).sum(0)

    # ------------------------------------------------------------------
    # training
    # ------------------------------------------------------------------
    def loss(self, hidden_states: Tensor, references: List[Tensor],
             enc_outputs_class: Optional[Tensor],
             enc_outputs_coord: Optional[Tensor], memory: Tensor,
             memory_mask: Optional[Tensor], spatial_shapes: Tensor,
             batch_data_samples: Sequence) -> Dict[str, Tensor]:
        """All losses of a batch.

        Args:
            hidden_states: ``[D, B, Q, C]`` location-decoder states.
            references: ``D + 1`` reference tensors (see mmdet).
            enc_outputs_class, enc_outputs_coord: Two-stage outputs or None.
            memory: ``[B, L, C]`` encoder output, levels finest first.
            memory_mask: ``[B, L]`` bool padding mask or None.
            spatial_shapes: ``[levels, 2]`` (h, w) per level.
            batch_data_samples: With ``gt_instances`` (thing ``labels``,
                ``bboxes``, ``masks`` padded to the batch shape) and
                ``gt_sem_seg`` (semantic labels, stuff ``T..T+S-1``).

        Returns:
            Loss dict: mmdet's ``loss_cls/loss_bbox/loss_iou`` (and ``d{i}.``
            per earlier layer) and ``loss_thing_mask``, ``loss_stuff_mask``,
            ``loss_stuff_cls`` (and ``d{i}.`` per earlier mask layer).
        """
        for sample in batch_data_samples:
            _check_panoptic_targets(sample)
        gts = [s.gt_instances for s in batch_data_samples]
        metas = [s.metainfo for s in batch_data_samples]
        all_cls, all_boxes = self(hidden_states, references)
        losses = self.loss_by_feat(all_cls, all_boxes, enc_outputs_class,
                                   enc_outputs_coord, gts, metas)
        stuff_targets = [
            _stuff_targets(s.gt_sem_seg.sem_seg, self.num_things_classes,
                           self.num_stuff_classes) for s in batch_data_samples
        ]  # B x [S, H, W]
        stuff_present = torch.stack(
            [t.flatten(1).amax(1) > 0 for t in stuff_targets])  # [B, S]
        num_things = _mean_over_ranks(sum(len(g) for g in gts), memory)
        num_stuff = _mean_over_ranks(int(stuff_present.sum()), memory)
        if self.balance_thing_stuff:
            total = max(num_things + num_stuff, 1e-6)
            thing_weight, stuff_weight = num_things / total, \
                num_stuff / total
        else:
            thing_weight = stuff_weight = 1.0
        losses = {k: v * thing_weight for k, v in losses.items()}

        mask_memory, padding, shapes = self._mask_memory(
            memory, memory_mask, spatial_shapes)
        last_cls, last_boxes = all_cls[-1], all_boxes[-1]
        kept = [self._filter_queries(c, b, g, m)
                for c, b, g, m in zip(last_cls, last_boxes, gts, metas)]
        query, query_padding = self._gather_queries(hidden_states[-1], kept)
        thing_states, thing_masks, stuff_logits, stuff_masks = \
            self._decode_masks(query, query_padding, mask_memory, padding,
                               shapes)
        losses.update(self._thing_losses(
            kept, last_cls, last_boxes, gts, metas, thing_states,
            thing_masks, query_padding, max(num_things, 1.0), thing_weight))
        losses.update(self._stuff_losses(
            stuff_targets, stuff_present, stuff_logits, stuff_masks,
            max(num_stuff, 1.0), stuff_weight))
        return losses

    def _filter_queries(self, cls_score: Tensor, box: Tensor,
                        gt: InstanceData, img_meta: dict) -> Tensor:
        """Indices of the queries the filter keeps for one image."""
        if len(gt) == 0:
            return torch.empty(0, dtype=torch.long, device=box.device)
        cost = self._cost(self.assigner,
                          self._pred_instances(cls_score, box, img_meta),
                          gt, img_meta)
        queries, _, _ = repeated_hungarian(cost, self.max_positives_per_gt)
        return queries.unique()

    @staticmethod
    def _gather_queries(states: Tensor, kept: List[Tensor]
                        ) -> Tuple[Tensor, Tensor]:
        """``[B, N, C]`` kept states, zero-padded to the longest image, and
        the ``[B, N]`` padding mask (N >= 1)."""
        width = max(max(len(k) for k in kept), 1)
        batch, _, dims = states.shape
        query = states.new_zeros(batch, width, dims)
        padding = torch.ones(batch, width, dtype=torch.bool,
                             device=states.device)
        for i, k in enumerate(kept):
            query[i, :len(k)] = states[i, k]
            padding[i, :len(k)] = False
        return query, padding

    def _thing_losses(self, kept: List[Tensor], last_cls: Tensor,
                      last_boxes: Tensor, gts: List[InstanceData],
                      metas: List[dict], states: List[Tensor],
                      masks: List[Tensor], query_padding: Tensor,
                      avg_factor: float, weight: float) -> Dict[str, Tensor]:
        """Match the kept queries to things by mask; dice (and classes)."""
        grid = masks[-1].shape[-2:]
        pred_ids, gt_masks = [], []
        labels = torch.full(query_padding.shape, self.num_things_classes,
                            dtype=torch.long, device=query_padding.device)
        for i, (k, gt, meta) in enumerate(zip(kept, gts, metas)):
            if len(k) == 0 or len(gt) == 0:
                continue
            gt_full = gt.masks.to_tensor(masks[-1].dtype, masks[-1].device)
            pred = self._pred_instances(last_cls[i, k], last_boxes[i, k],
                                        meta, masks[-1][i, :len(k)])
            target = InstanceData(labels=gt.labels, bboxes=gt.bboxes,
                                  masks=_resize(gt_full, tuple(grid)))
            assigned = self.mask_assigner.assign(pred, target, meta).gt_inds
            rows = torch.nonzero(assigned > 0).squeeze(1)
            pred_ids.append((i, rows))
            gt_masks.append(gt_full[assigned[rows] - 1])
            labels[i, rows] = gt.labels[assigned[rows] - 1]
        losses = self._dice_per_layer(masks, pred_ids, gt_masks, avg_factor,
                                      weight, 'loss_thing_mask')
        if self.thing_cls_source == 'mask':
            valid = (~query_padding).flatten().float()
            for layer, (branch, layer_states) in enumerate(
                    zip(self.thing_cls_branches, states)):
                logits = branch(layer_states).flatten(0, 1)
                loss = self.loss_cls(logits, labels.flatten(), valid,
                                     avg_factor=avg_factor)
                losses[_layer_key('loss_thing_cls', layer,
                                  len(states))] = loss * weight
        return losses

    def _dice_per_layer(self, masks: List[Tensor],
                        pred_ids: List[Tuple[int, Tensor]],
                        gt_masks: List[Tensor], avg_factor: float,
                        weight: float, name: str) -> Dict[str, Tensor]:
        """Dice of every layer's masks (x2 upsampled) against the targets.

        The last entry of ``masks`` is the final prediction (``name``);
        earlier ones are ``d{i}.name``.
        """
        losses = {}
        size = (masks[0].shape[-2] * 2, masks[0].shape[-1] * 2)
        target = (_resize(torch.cat(gt_masks), size) if gt_masks else
                  masks[0].new_zeros(0, *size))
        for layer, layer_masks in enumerate(masks):
            picked = [layer_masks[i, rows] for i, rows in pred_ids]
            pred = (torch.cat(picked) if picked else
                    layer_masks.new_zeros(0, *layer_masks.shape[-2:]))
            pred = _resize(pred, size)
            # the zero term keeps every mask parameter in the graph when a
            # batch has no target (DDP needs the same graph on every rank)
            loss = (self.loss_mask(pred, target, avg_factor=avg_factor)
                    if len(pred) else layer_masks.sum() * 0)
            losses[_layer_key(name, layer, len(masks))] = loss * weight
        return losses

    def _stuff_losses(self, targets: List[Tensor], present: Tensor,
                      logits: List[Tensor], masks: List[Tensor],
                      avg_factor: float,
                      weight: float) -> Dict[str, Tensor]:
        """Class-fixed stuff queries: presence focal loss and dice.

        ``targets``: per image ``[S, H, W]`` stuff masks; ``present``:
        ``[B, S]`` which of them are non-empty.
        """
        pred_ids = [(i, torch.nonzero(p).squeeze(1))
                    for i, p in enumerate(present)]
        gt_masks = [t[rows] for t, (_, rows) in zip(targets, pred_ids)]
        losses = self._dice_per_layer(masks, pred_ids, gt_masks, avg_factor,
                                      weight, 'loss_stuff_mask')
        labels = (~present).long().flatten()  # 0 = present, 1 = background
        for layer, layer_logits in enumerate(logits):
            loss = self.loss_stuff_cls(layer_logits.reshape(-1, 1), labels,
                                       avg_factor=avg_factor)
            losses[_layer_key('loss_stuff_cls', layer,
                              len(logits))] = loss * weight
        return losses

    # ------------------------------------------------------------------
    # inference
    # ------------------------------------------------------------------
    def predict(self, hidden_states: Tensor, references: List[Tensor],
                memory: Tensor, memory_mask: Optional[Tensor],
                spatial_shapes: Tensor, batch_data_samples: Sequence,
                rescale: bool = True, **unused) -> List[Tensor]:
        """Panoptic maps by mask-wise merging.

        Returns:
            One ``[H, W]`` int64 map per image in mmdet's encoding (see
            :func:`.merging.merge_masks`), at the original image size when
            ``rescale`` else at the network input size.
        """
        cfg = self.merge_cfg
        metas = [s.metainfo for s in batch_data_samples]
        mask_memory, padding, shapes = self._mask_memory(
            memory, memory_mask, spatial_shapes)
        if self.thing_cls_source == 'mask':
            # the paper: every query is decoded and classified by the mask
            # decoder
            thing_states, all_masks, stuff_logits, stuff_masks = \
                self._decode_masks(hidden_states[-1], None, mask_memory,
                                   padding, shapes)
            logits = self.thing_cls_branches[-1](thing_states[-1])
        else:
            logits = self(hidden_states, references)[0][-1]
        probs = logits.sigmoid()  # [B, Q, T]
        batch, num_queries, num_things = probs.shape
        top = min(cfg['max_per_img'], num_queries * num_things)
        thing_probs, flat = probs.flatten(1).topk(top, dim=1)
        query_ids = torch.div(flat, num_things, rounding_mode='floor')
        thing_labels = flat % num_things
        if self.thing_cls_source == 'mask':
            final = all_masks[-1]
            thing_masks = final.gather(1, query_ids[..., None, None].expand(
                -1, -1, *final.shape[-2:]))
        else:
            states = hidden_states[-1].gather(
                1, query_ids[..., None].expand(-1, -1, self.embed_dims))
            _, all_masks, stuff_logits, stuff_masks = self._decode_masks(
                states, None, mask_memory, padding, shapes)
            thing_masks = all_masks[-1]
        stuff_probs = stuff_logits[-1].sigmoid()
        stuff_labels = torch.arange(
            num_things, num_things + self.num_stuff_classes,
            device=probs.device)
        is_thing = torch.arange(top + self.num_stuff_classes,
                                device=probs.device) < top
        results = []
        for i, meta in enumerate(metas):
            masks = torch.cat([thing_masks[i], stuff_masks[-1][i]])
            masks = _resize(masks, tuple(meta['batch_input_shape']))
            img_h, img_w = meta['img_shape']
            masks = masks[:, :img_h, :img_w]
            if rescale:
                masks = _resize(masks, tuple(meta['ori_shape']))
            panoptic, _ = merge_masks(
                masks, torch.cat([thing_probs[i], stuff_probs[i]]),
                torch.cat([thing_labels[i], stuff_labels]), is_thing,
                num_things + self.num_stuff_classes,
                cfg['thing_score_thr'], cfg['stuff_score_thr'],
                cfg['thing_overlap_thr'], cfg['stuff_overlap_thr'],
                cfg['mask_thr'], cfg['alpha'], cfg['beta'], INSTANCE_OFFSET)
            results.append(panoptic)
        return results
