"""A data sample for single-label image classification."""
from numbers import Integral
from typing import Sequence, Union

import numpy as np
import torch
from mmengine.structures import BaseDataElement

LabelType = Union[torch.Tensor, np.ndarray, Sequence[int], int]


def format_label(value: LabelType) -> torch.Tensor:
    """Convert a single-label annotation to a ``LongTensor`` of shape [1].

    Args:
        value (Tensor | np.ndarray | Sequence[int] | int): The label. Arrays
            and sequences must hold exactly one element.

    Returns:
        Tensor: The label as ``torch.long``, shape [1].

    Raises:
        TypeError: If ``value`` is not an integer-like type.
        ValueError: If ``value`` holds more or fewer than one element.
    """
    if isinstance(value, (torch.Tensor, np.ndarray)):
        label = torch.as_tensor(value)
        if label.is_floating_point() or label.is_complex():
            raise TypeError(f'gt_label/pred_label must be integers, got '
                            f'a tensor of dtype {label.dtype}')
        label = label.to(torch.long).reshape(-1)
    elif isinstance(value, Integral) and not isinstance(value, bool):
        label = torch.tensor([int(value)], dtype=torch.long)
    elif isinstance(value, Sequence) and not isinstance(value, str):
        label = torch.tensor([int(v) for v in value], dtype=torch.long)
    else:
        raise TypeError(f'gt_label/pred_label must be an int, a sequence '
                        f'of int, an ndarray or a Tensor, got {type(value)}')
    if label.numel() != 1:
        raise ValueError('ClsDataSample holds one label per image; got '
                         f'{label.numel()} values')
    return label


class ClsDataSample(BaseDataElement):
    """Annotation and prediction of one image for single-label
    classification.

    Properties:
        gt_label (Tensor): Ground-truth label, ``torch.long``, shape [1].
            Setting it accepts an int, a one-element sequence, ndarray or
            Tensor.
        pred_label (Tensor): Predicted label, ``torch.long``, shape [1].
        pred_score (Tensor): Class probabilities, float, shape
            [num_classes].

    Examples:
        >>> sample = ClsDataSample(metainfo=dict(img_shape=(32, 32)))
        >>> sample.gt_label = 3
        >>> sample.gt_label
        tensor([3])
        >>> 'gt_label' in sample
        True
    """

    @property
    def gt_label(self) -> torch.Tensor:
        return self._gt_label

    @gt_label.setter
    def gt_label(self, value: LabelType) -> None:
        self.set_field(format_label(value), '_gt_label', dtype=torch.Tensor)

    @gt_label.deleter
    def gt_label(self) -> None:
        del self._gt_label

    @property
    def pred_label(self) -> torch.Tensor:
        return self._pred_label

    @pred_label.setter
    def pred_label(self, value: LabelType) -> None:
        self.set_field(
            format_label(value), '_pred_label', dtype=torch.Tensor)

    @pred_label.deleter
    def pred_label(self) -> None:
        del self._pred_label

    @property
    def pred_score(self) -> torch.Tensor:
        return self._pred_score

    @pred_score.setter
    def pred_score(self, value: Union[torch.Tensor, np.ndarray]) -> None:
        score = torch.as_tensor(value)
        if score.ndim != 1 or not score.is_floating_point():
            raise ValueError('pred_score must be a 1-D float tensor of shape '
                             f'[num_classes], got dtype {score.dtype} and '
                             f'shape {tuple(score.shape)}')
        self.set_field(score, '_pred_score', dtype=torch.Tensor)

    @pred_score.deleter
    def pred_score(self) -> None:
        del self._pred_score
