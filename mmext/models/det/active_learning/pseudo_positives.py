"""Pseudo-labelled images train their positives only.

AL-SSL (Elezi et al., CVPR 2022, arXiv 2106.11921) pseudo-labels the
unlabelled images the detector is sure of and trains on them, but an object
the detector missed is not in the pseudo boxes: its anchors would be pushed
to background. The pseudo images' classification loss therefore covers the
positive anchors or proposals only (label weight 0 for every other one);
their box regression, which only positives have, is unchanged.

Rather than re-implementing target assignment, the wrappers here adjust
the targets mmdet's own heads compute, for one ``detector.loss`` call:

- ``AnchorHead._get_targets_single`` (one-stage anchor heads and the RPN)
  receives each image's meta, so it reads the image's ``'al_role'``;
- ``BBoxHead.get_targets`` of a ``StandardRoIHead`` receives the batch's
  sampling results (each image's rois are its positives, then its
  negatives), so it is told the roles of the images in order.

Assumption: the loss normalisation is the head's own (``avg_factor``): the
number of positives for ``PseudoSampler`` heads (SSD, RetinaNet; the
reference's SSD normalises by the positives too), the sampled positives
and negatives for the RPN and the RoI head.
"""
import contextlib
import inspect
from typing import Iterator, List, Sequence

import torch
from mmdet.models.dense_heads import AnchorHead
from mmdet.models.roi_heads.bbox_heads import BBoxHead
from torch import Tensor

from mmext.models.utils import patched_method

ROLES = ('labelled', 'pseudo', 'unlabelled')
ROLE_KEY = 'al_role'


def image_roles(data_samples: Sequence) -> List[str]:
    """Each image's ``metainfo['al_role']`` (``'labelled'`` when unset).

    Raises:
        ValueError: for a role not in :data:`ROLES`.
    """
    roles = [
        sample.metainfo.get(ROLE_KEY, 'labelled') for sample in data_samples
    ]
    for role in roles:
        if role not in ROLES:
            raise ValueError(f"data_sample.metainfo['{ROLE_KEY}']={role!r}: "
                             f'expected one of {ROLES}')
    return roles


def _positives_only(labels: Tensor, label_weights: Tensor,
                    num_classes: int) -> Tensor:
    """``label_weights`` with every non-positive entry (label outside
    ``[0, num_classes)``) set to 0."""
    positive = (labels >= 0) & (labels < num_classes)
    return label_weights * positive.to(label_weights.dtype)


@contextlib.contextmanager
def positives_only_anchor_targets(head: AnchorHead) -> Iterator[None]:
    """Within: ``head``'s targets of images whose meta has ``'al_role'``
    ``'pseudo'`` give label weight 0 to all but the positive anchors.

    Args:
        head: An ``AnchorHead`` (or subclass keeping its
            ``_get_targets_single``): a one-stage head or the RPN.
    """
    signature = inspect.signature(head._get_targets_single)

    def wrap(method):

        def targets(*args, **kwargs):
            result = method(*args, **kwargs)
            img_meta = signature.bind(*args, **kwargs).arguments['img_meta']
            if img_meta.get(ROLE_KEY, 'labelled') != 'pseudo':
                return result
            labels, label_weights = result[:2]
            return (labels,
                    _positives_only(labels, label_weights, head.num_classes),
                    *result[2:])

        return targets

    with patched_method(head, '_get_targets_single', wrap):
        yield


@contextlib.contextmanager
def positives_only_roi_targets(bbox_head: BBoxHead,
                               roles: Sequence[str]) -> Iterator[None]:
    """Within: the RoI targets of the ``'pseudo'`` images among ``roles``
    give label weight 0 to their negative rois.

    Args:
        bbox_head: The ``StandardRoIHead``'s ``BBoxHead``.
        roles: The role of each image of the batch ``detector.loss`` is
            called on, in order.
    """
    roles = list(roles)

    def wrap(method):

        def get_targets(sampling_results, rcnn_train_cfg, concat=True):
            labels, label_weights, bbox_targets, bbox_weights = method(
                sampling_results, rcnn_train_cfg, concat=concat)
            if len(sampling_results) != len(roles):
                raise RuntimeError(
                    f'{type(bbox_head).__name__}.get_targets got '
                    f'{len(sampling_results)} images, the batch has '
                    f'{len(roles)}; cannot tell which are pseudo-labelled')
            if 'pseudo' not in roles:
                return labels, label_weights, bbox_targets, bbox_weights
            weights = list(label_weights) if not concat else list(
                label_weights.split(
                    [len(result.priors) for result in sampling_results]))
            for image, role in enumerate(roles):
                if role == 'pseudo':
                    # Each image's rois are [positives, negatives].
                    num_pos = len(sampling_results[image].pos_priors)
                    keep = torch.zeros_like(weights[image])
                    keep[:num_pos] = 1
                    weights[image] = weights[image] * keep
            label_weights = torch.cat(weights) if concat else weights
            return labels, label_weights, bbox_targets, bbox_weights

        return get_targets

    with patched_method(bbox_head, 'get_targets', wrap):
        yield
