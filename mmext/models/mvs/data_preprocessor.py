"""Batching of multi-view stereo samples for :class:`mmext.CVPMVSNet`."""
from typing import Any, Dict, Mapping, Optional, Sequence

import torch
from mmengine.model import BaseDataPreprocessor
from torch import Tensor

from mmext.registry import MODELS

__all__ = ['MVSDataPreprocessor']

REQUIRED = ('imgs', 'intrinsics', 'extrinsics', 'depth_min', 'depth_max')


def _as_list(data: Dict[str, Any], key: str) -> list:
    value = data[key]
    if isinstance(value, Tensor):
        return list(value)  # already stacked along the batch
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
        raise TypeError(
            f'data[{key!r}]: expected the list of per-sample items that '
            "mmengine's pseudo_collate gives (collate_fn=dict(type="
            f"'pseudo_collate')), got {type(value).__name__}")
    return list(value)


def _uncollate(collated: Any, index: int) -> Any:
    """Sample ``index`` of a value built by ``pseudo_collate``: a mapping
    of collated values, a list over positions of collated values (from a
    per-sample sequence), or a list over samples (from a leaf)."""
    if isinstance(collated, Mapping):
        return {k: _uncollate(v, index) for k, v in collated.items()}
    if isinstance(collated, (list, tuple)) and all(
            isinstance(v, (list, tuple, Mapping)) for v in collated):
        return [_uncollate(v, index) for v in collated]
    return collated[index]


def _image(item: Any, index: int) -> Tensor:
    image = torch.as_tensor(item)
    if image.dim() != 4 or image.shape[1] != 3:
        raise ValueError(f'imgs: sample {index} should be [V, 3, H, W], got '
                         f'{list(image.shape)}')
    if image.dtype == torch.uint8:
        return image.float() / 255
    return image.float()


@MODELS.register_module()
class MVSDataPreprocessor(BaseDataPreprocessor):
    """Stack per-sample multi-view items into batch tensors on the model's
    device.

    Input: a batch of mmengine's ``pseudo_collate``, a dict of lists with
    one item per sample:

    * ``imgs``: ``[V, 3, H, W]`` float in [0, 1] (view 0 the reference;
      uint8 is divided by 255). There is no mean/std normalisation:
      CVP-MVSNet takes [0, 1] images.
    * ``intrinsics`` ``[V, 3, 3]``, ``extrinsics`` ``[V, 4, 4]``
      (world-to-camera).
    * ``depth_min``, ``depth_max``: floats.
    * ``depths`` (optional): list over pyramid levels (finest first) of
      ``[H_l, W_l]`` ground truth (``pseudo_collate`` turns these into a
      list over levels of per-sample maps).
    * ``meta`` (optional): dict (``scan``, ``view``, ``light``, ...);
      ``pseudo_collate`` turns these into a dict of lists, which is split
      back into one dict per sample.

    Output: ``dict(imgs [B, V, 3, H, W], intrinsics [B, V, 3, 3],
    extrinsics [B, V, 4, 4], depth_min [B], depth_max [B], depths (list
    over levels of [B, H_l, W_l], if given), data_samples (list of the
    ``meta`` dicts, or None))``, all float32, the keyword arguments of
    :meth:`mmext.CVPMVSNet.forward`.

    Args:
        non_blocking (bool): Non-blocking host-to-device copies.
    """

    def __init__(self, non_blocking: Optional[bool] = False) -> None:
        super().__init__(non_blocking=non_blocking)

    def forward(self, data: dict, training: bool = False) -> dict:
        """Stack and move ``data`` (see the class docstring)."""
        if not isinstance(data, dict):
            raise TypeError('MVSDataPreprocessor: expected a dict batch of '
                            "pseudo_collate, got "
                            f'{type(data).__name__}')
        missing = [k for k in REQUIRED if k not in data]
        if missing:
            raise KeyError(f'MVSDataPreprocessor: the batch lacks {missing}; '
                           f'an MVS sample has {list(REQUIRED)} (and '
                           "optionally 'depths' and 'meta')")
        images = [_image(x, i) for i, x in enumerate(_as_list(data, 'imgs'))]
        out: Dict[str, Any] = dict(
            imgs=torch.stack(images),
            intrinsics=torch.stack([
                torch.as_tensor(x).float()
                for x in _as_list(data, 'intrinsics')
            ]),
            extrinsics=torch.stack([
                torch.as_tensor(x).float()
                for x in _as_list(data, 'extrinsics')
            ]),
            depth_min=torch.tensor(
                [float(x) for x in _as_list(data, 'depth_min')]),
            depth_max=torch.tensor(
                [float(x) for x in _as_list(data, 'depth_max')]))
        batch = len(images)
        if data.get('depths') is not None:
            # pseudo_collate transposes each sample's list of levels into a
            # list over levels of per-sample maps.
            out['depths'] = [
                torch.stack([torch.as_tensor(x).float() for x in level])
                for level in _as_list(data, 'depths')
            ]
        meta = data.get('meta')
        out['data_samples'] = None if meta is None else [
            _uncollate(meta, i) for i in range(batch)
        ]
        return self.cast_data(out)
