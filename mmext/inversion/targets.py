"""The batches a GradInversion run attacks (Yin et al., "See through
Gradients: Image Batch Recovery via GradInversion", CVPR 2021, arXiv
2104.07586): drawn from a dataset, or read from a gradients file a user
provides."""
import random
from typing import Dict, List, Optional, Sequence, Tuple

import torch

SAMPLINGS = ('random', 'distinct_labels')


def draw_target_batches(labels: Sequence[int],
                        batch_size: int,
                        num_batches: int,
                        sampling: str = 'random',
                        seed: int = 0) -> List[List[int]]:
    """Dataset indices of the attacked batches, reproducible from ``seed``.

    Args:
        labels (Sequence[int]): The class of every dataset item.
        batch_size (int): Images per batch.
        num_batches (int): How many batches.
        sampling (str): ``'random'``: images drawn without replacement
            (labels may repeat in a batch); ``'distinct_labels'``: every
            batch has ``batch_size`` different classes (the paper's label
            recovery setting), which needs ``batch_size <= num_classes``.
        seed (int): Seed of the draw.

    Returns:
        list[list[int]]: ``num_batches`` lists of ``batch_size`` indices; no
        index is used twice.
    """
    if sampling not in SAMPLINGS:
        raise ValueError(f'target sampling must be one of {SAMPLINGS}, got '
                         f'{sampling!r}')
    if batch_size * num_batches > len(labels):
        raise ValueError(
            f'{num_batches} batches of {batch_size} need '
            f'{batch_size * num_batches} images; the dataset has '
            f'{len(labels)}: lower num_batches or batch_size')
    rng = random.Random(seed)
    order = list(range(len(labels)))
    rng.shuffle(order)
    if sampling == 'random':
        return [
            order[b * batch_size:(b + 1) * batch_size]
            for b in range(num_batches)
        ]
    by_class: Dict[int, List[int]] = {}
    for index in order:
        by_class.setdefault(int(labels[index]), []).append(index)
    if batch_size > len(by_class):
        raise ValueError(
            f"sampling='distinct_labels' needs batch_size <= the number of "
            f'classes ({len(by_class)}), got batch_size={batch_size}; use '
            "sampling='random' for larger batches")
    batches = []
    for _ in range(num_batches):
        classes = [c for c in by_class if by_class[c]]
        if len(classes) < batch_size:
            raise ValueError(
                f'not enough images left for {num_batches} batches of '
                f'{batch_size} distinct labels; lower num_batches')
        chosen = rng.sample(classes, batch_size)
        batches.append([by_class[c].pop() for c in chosen])
    return batches


def load_gradients_file(path: str,
                        params: Sequence[torch.nn.Parameter],
                        names: Sequence[str]) -> dict:
    """Read observed gradients that a user provides.

    The file is a ``torch.save`` of a dict with ``'gradients'`` (a dict from
    parameter name, as in ``model.named_parameters()``, to tensor; or a list
    in parameter order), ``'batch_size'`` (int) and optionally ``'labels'``
    ([N] long) and ``'images'`` ([N, C, H, W], normalised as the model
    expects; enables the image metrics).

    Args:
        path (str): The file.
        params (Sequence[Parameter]): The model's trainable parameters.
        names (Sequence[str]): Their names, same order.

    Returns:
        dict: ``gradients`` (list in parameter order), ``batch_size``,
        ``labels`` (or None), ``images`` (or None).
    """
    data = torch.load(path, map_location='cpu', weights_only=True)
    if not isinstance(data, dict) or 'gradients' not in data \
            or 'batch_size' not in data:
        raise ValueError(
            f'{path}: a gradients file is a dict with "gradients" and '
            '"batch_size" (and optionally "labels", "images")')
    grads = data['gradients']
    if isinstance(grads, dict):
        missing = [n for n in names if n not in grads]
        unknown = [n for n in grads if n not in set(names)]
        if missing or unknown:
            raise ValueError(
                f'{path}: gradients do not match the model; missing '
                f'{missing[:5]}{"..." if len(missing) > 5 else ""}, '
                f'unknown {unknown[:5]}{"..." if len(unknown) > 5 else ""}')
        grads = [grads[n] for n in names]
    grads = list(grads)
    if len(grads) != len(params):
        raise ValueError(f'{path}: {len(grads)} gradients for '
                         f'{len(params)} trainable parameters')
    for name, grad, param in zip(names, grads, params):
        if tuple(grad.shape) != tuple(param.shape):
            raise ValueError(
                f'{path}: gradient of {name} has shape {tuple(grad.shape)}, '
                f'the parameter {tuple(param.shape)}')
    images: Optional[torch.Tensor] = data.get('images')
    labels: Optional[torch.Tensor] = data.get('labels')
    return dict(
        gradients=[g.float() for g in grads],
        batch_size=int(data['batch_size']),
        labels=None if labels is None else labels.long(),
        images=images)


def dataset_labels(dataset) -> List[int]:
    """The class of every item of an MMEngine classification dataset
    (``get_gt_label(i)`` where the dataset has it, else ``gt_label`` of
    its data list)."""
    if hasattr(dataset, 'get_gt_label'):
        return [int(dataset.get_gt_label(i)) for i in range(len(dataset))]
    return [int(dataset.get_data_info(i)['gt_label'])
            for i in range(len(dataset))]


def load_batch(model: torch.nn.Module, dataset,
               indices: Sequence[int]) -> tuple:
    """Dataset items through their pipeline and the model's
    ``data_preprocessor``.

    Returns:
        tuple[Tensor, Tensor]: Normalised images [N, C, H, W] and labels
        [N] (long), on the model's device.
    """
    from mmengine.dataset import pseudo_collate
    data = model.data_preprocessor(
        pseudo_collate([dataset[i] for i in indices]), False)
    labels = torch.cat([s.gt_label for s in data['data_samples']])
    return data['inputs'], labels.to(data['inputs'].device)


def pixel_mean_std(model: torch.nn.Module) -> Tuple[torch.Tensor,
                                                    torch.Tensor]:
    """The mean and std of the model's ``data_preprocessor`` in [0, 1]
    pixel units, each [C] on the CPU.

    Raises:
        ValueError: If the preprocessor does not normalise (attack images
            and their metrics are defined in pixels).
    """
    pre = model.data_preprocessor
    if not getattr(pre, '_enable_normalize', False):
        raise ValueError(
            'GradInversionLoop needs a data_preprocessor with mean and '
            'std (the image box and the metrics are defined in pixels)')
    return pre.mean.flatten().cpu() / 255.0, pre.std.flatten().cpu() / 255.0


def unit_images(images: torch.Tensor, mean: torch.Tensor,
                std: torch.Tensor) -> torch.Tensor:
    """Normalised images [N, C, H, W] -> [0, 1] pixels on the CPU, with the
    [C] ``mean`` and ``std`` of :func:`pixel_mean_std`."""
    shape = (1, -1, 1, 1)
    return (images.detach().cpu() * std.view(shape) +
            mean.view(shape)).clamp(0, 1)
