"""The batches a GradInversion run attacks (Yin et al., "See through
Gradients: Image Batch Recovery via GradInversion", CVPR 2021, arXiv
2104.07586), and what the attacker observes of each.

A batch is drawn from a dataset (:func:`draw_target_batches`) or read from
a gradients file a user provides (:func:`load_gradients_file`).
:func:`dataset_target`, :func:`batch_target` and :func:`file_target` turn
it into an :class:`InversionTarget`: the batch-averaged gradients, the
labels the attack uses (recovered from the last linear layer, Eq. 8, or the
true ones) and, when known, the true images and their features to score a
reconstruction against.
"""
import random
from dataclasses import dataclass
from typing import Collection, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from .gradients import batch_gradients
from .labels import attack_labels, last_linear_weight_index

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


def draw_pool(num_items: int, exclude: Collection[int], size: int,
              seed: int) -> List[int]:
    """Dataset indices of the extra identifiability pool.

    Args:
        num_items (int): Items in the dataset.
        exclude (Collection[int]): Indices already attacked.
        size (int): Pool size (fewer when the dataset runs out).
        seed (int): Seed of the draw (a ``torch.Generator``).

    Returns:
        list[int]: Up to ``size`` distinct indices, none in ``exclude``, in
        a random order reproducible from ``seed``.
    """
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(num_items, generator=generator).tolist()
    return [i for i in order if i not in exclude][:size]


def image_features(model: nn.Module,
                   images: torch.Tensor) -> Optional[torch.Tensor]:
    """The model's last feature map of ``images`` (no gradient).

    Args:
        model (nn.Module): A classifier with ``extract_feat`` (mmext's and
            mmpretrain's); other models have no features here.
        images (Tensor): [N, C, H, W], normalised as the model expects.

    Returns:
        Tensor | None: The last output of ``extract_feat``, [N, ...] (e.g.
        [N, D] after global pooling), or None without ``extract_feat``.
    """
    extract = getattr(model, 'extract_feat', None)
    if extract is None:
        return None
    with torch.no_grad():
        feats = extract(images)
    return feats[-1] if isinstance(feats, (list, tuple)) else feats


@dataclass(frozen=True)
class InversionTarget:
    """One attacked batch: what the attacker observes, and the truth.

    Attributes:
        gradients (list[Tensor]): The batch-averaged gradients, one per
            trainable parameter in ``model.parameters()`` order.
        labels (LongTensor): [B] the labels the attack uses, on the
            model's device.
        label_source (str): ``'recovered'`` (from the gradient) or
            ``'true'`` (the batch's own labels): where ``labels`` came from.
        image_shape (tuple[int, int, int]): (C, H, W) of the images.
        ids (list[int]): [B] the dataset index of each image; -B..-1 for
            the images of a gradients file.
        images (Tensor | None): [B, C, H, W] the true batch, normalised as
            the model expects; None when unknown (a gradients file without
            images).
        true_labels (LongTensor | None): [B] the batch's labels, if known.
        recovered_labels (LongTensor | None): [B] the labels the gradient
            gives (sorted), None when B exceeds the number of classes.
        features (Tensor | None): [B, ...] :func:`image_features` of
            ``images``, for identifiability in feature space; None without
            images, without ``extract_feat`` or when not asked for.
    """
    gradients: List[torch.Tensor]
    labels: torch.Tensor
    label_source: str
    image_shape: Tuple[int, int, int]
    ids: List[int]
    images: Optional[torch.Tensor] = None
    true_labels: Optional[torch.Tensor] = None
    recovered_labels: Optional[torch.Tensor] = None
    features: Optional[torch.Tensor] = None

    @property
    def batch_size(self) -> int:
        """B, the number of attacked images."""
        return len(self.ids)


def _trainable(model: nn.Module) -> Tuple[List[str], List[nn.Parameter]]:
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    return [n for n, _ in named], [p for _, p in named]


def _target(model: nn.Module, gradients: List[torch.Tensor],
            label_source: str, ids: List[int], image_shape: Sequence[int],
            images: Optional[torch.Tensor],
            true_labels: Optional[torch.Tensor],
            with_features: bool) -> InversionTarget:
    """The labels and features of a batch whose gradients are known."""
    _, params = _trainable(model)
    fc_weight_grad = gradients[last_linear_weight_index(model, params)]
    labels, recovered = attack_labels(fc_weight_grad, len(ids), label_source,
                                      true_labels)
    features = image_features(model, images) \
        if with_features and images is not None else None
    return InversionTarget(
        gradients=gradients,
        labels=labels.to(params[0].device),
        label_source=label_source,
        image_shape=tuple(int(v) for v in image_shape),
        ids=list(ids),
        images=images,
        true_labels=true_labels,
        recovered_labels=recovered,
        features=features)


def batch_target(model: nn.Module,
                 images: torch.Tensor,
                 labels: torch.Tensor,
                 label_source: str = 'recovered',
                 ids: Optional[Sequence[int]] = None,
                 with_features: bool = True) -> InversionTarget:
    """The target of a batch a client trains on: its gradients computed
    with ``model`` (:func:`~mmext.inversion.batch_gradients`, eval mode).

    Args:
        model (nn.Module): The attacked classifier, in eval mode.
        images (Tensor): [B, C, H, W], normalised as the model expects.
        labels (LongTensor): [B] the batch's labels.
        label_source (str): ``'recovered'`` (the paper) or ``'true'``.
        ids (Sequence[int], optional): [B] dataset indices of the images;
            0..B-1 by default.
        with_features (bool): Also compute :attr:`InversionTarget.features`.

    Returns:
        InversionTarget: With images, true and recovered labels.

    Raises:
        ValueError: The model has no trainable last ``nn.Linear``, or the
            label source cannot serve the batch (see
            :func:`~mmext.inversion.labels.attack_labels`).
    """
    ids = list(range(len(labels))) if ids is None else list(ids)
    if len(ids) != len(labels) or len(images) != len(labels):
        raise ValueError(f'batch_target: {len(images)} images, '
                         f'{len(labels)} labels and {len(ids)} ids must '
                         'have the same length')
    gradients = batch_gradients(model, images, labels)
    return _target(model, gradients, label_source, ids, images.shape[1:],
                   images, labels, with_features)


def dataset_target(model: nn.Module,
                   dataset,
                   indices: Sequence[int],
                   label_source: str = 'recovered',
                   with_features: bool = True) -> InversionTarget:
    """:func:`batch_target` of dataset items (:func:`load_batch`).

    Args:
        model (nn.Module): The attacked classifier, in eval mode.
        dataset: An MMEngine classification dataset.
        indices (Sequence[int]): [B] the items of the batch.
        label_source (str): ``'recovered'`` (the paper) or ``'true'``.
        with_features (bool): Also compute :attr:`InversionTarget.features`.

    Returns:
        InversionTarget: With ``ids`` = ``indices``.
    """
    images, labels = load_batch(model, dataset, indices)
    return batch_target(model, images, labels, label_source, indices,
                        with_features)


def file_target(model: nn.Module,
                path: str,
                label_source: str = 'recovered',
                image_shape: Optional[Sequence[int]] = None,
                with_features: bool = True) -> InversionTarget:
    """The target in a gradients file (:func:`load_gradients_file`).

    Args:
        model (nn.Module): The attacked classifier, in eval mode.
        path (str): The gradients file.
        label_source (str): ``'recovered'`` (the paper) or ``'true'``
            (needs ``'labels'`` in the file).
        image_shape (Sequence[int], optional): (C, H, W), needed when the
            file has no ``'images'``.
        with_features (bool): Also compute :attr:`InversionTarget.features`
            (when the file has images).

    Returns:
        InversionTarget: With ``ids`` -B..-1.

    Raises:
        ValueError: The file does not fit the model, lacks what the label
            source needs, or has no images and no ``image_shape`` is given.
    """
    names, params = _trainable(model)
    data = load_gradients_file(path, params, names)
    images = data['images']
    if images is None and image_shape is None:
        raise ValueError(
            f'{path} has no "images"; set image_shape=(C, H, W) '
            '(GradInversionLoop.image_shape, tools/invert.py --image-shape)')
    batch_size = data['batch_size']
    return _target(model, data['gradients'], label_source,
                   list(range(-batch_size, 0)),
                   images.shape[1:] if images is not None else image_shape,
                   images, data['labels'], with_features)
