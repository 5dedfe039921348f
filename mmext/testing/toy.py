"""Toy components for runner, hook, loop and tool tests.

In the spirit of ``mmengine.testing.RunnerTestCase``: a two-layer MLP
classifier, a points data set and an accuracy metric, all tiny enough for a
full train/val/test run in a second on CPU, but learnable, so tests can assert
that training does something. They are registered in mmext's registries under
``Toy*`` names (never in the root) and imported on demand, e.g. through
``custom_imports=dict(imports=['mmext.testing.toy'])``.

The data set is two-class points in ``R^d`` labelled by the sign of the sum of
their coordinates. It is generated from a seed, or read from a JSON file in
MMEngine's annotation format (``{"metainfo": ..., "data_list": [{"x": [...],
"label": 0|1}, ...]}``, written by :func:`write_toy_annotations`), so
``data_root``/``ann_file`` handling and the data check can be exercised.

:func:`get_toy_cfg` returns a complete epoch- or iteration-based config.
"""
import copy
import json
import os
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dataset import BaseDataset
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel

from mmext.registry import DATASETS, METRICS, MODELS


def make_toy_points(num_samples: int = 32,
                    num_features: int = 2,
                    seed: int = 0) -> List[Dict[str, Any]]:
    """Return ``num_samples`` labelled points (``{'x': [...], 'label': int}``).

    Args:
        num_samples (int): Number of points. Defaults to 32.
        num_features (int): Dimension of each point. Defaults to 2.
        seed (int): Seed of the generator; the same seed gives the same
            points. Defaults to 0.

    Returns:
        list[dict]: ``label`` is 1 where the coordinates sum to more than 0.
    """
    rng = np.random.default_rng(seed)
    points = rng.normal(size=(num_samples, num_features)).astype(np.float32)
    labels = (points.sum(axis=1) > 0).astype(np.int64)
    return [dict(x=[float(v) for v in p], label=int(lab))
            for p, lab in zip(points, labels)]


def write_toy_annotations(path: str,
                          num_samples: int = 32,
                          num_features: int = 2,
                          seed: int = 0) -> str:
    """Write a :class:`ToyDataset` annotation file and return its path.

    Args:
        path (str): Output JSON path; parent folders are created.
        num_samples (int): Number of points. Defaults to 32.
        num_features (int): Dimension of each point. Defaults to 2.
        seed (int): Generator seed. Defaults to 0.

    Returns:
        str: ``path``.
    """
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    content = dict(
        metainfo=dict(classes=list(ToyDataset.METAINFO['classes'])),
        data_list=make_toy_points(num_samples, num_features, seed))
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(content, f)
    return path


@DATASETS.register_module()
class ToyDataset(BaseDataset):
    """Two-class points, generated from a seed or read from ``ann_file``.

    Each item is ``dict(inputs=Tensor[num_features], data_samples=Tensor[])``
    (the label), so ``default_collate`` or ``pseudo_collate`` both work.

    Args:
        num_samples (int): Number of generated points (ignored with
            ``ann_file``). Defaults to 32.
        num_features (int): Dimension of generated points. Defaults to 2.
        seed (int): Seed of the generated points. Defaults to 0.
        **kwargs: :class:`mmengine.dataset.BaseDataset` arguments
            (``ann_file``, ``data_root``, ``data_prefix``, ``indices``, ...).
    """

    METAINFO = dict(classes=('negative', 'positive'))

    def __init__(self,
                 num_samples: int = 32,
                 num_features: int = 2,
                 seed: int = 0,
                 **kwargs) -> None:
        self.num_samples = num_samples
        self.num_features = num_features
        self.seed = seed
        super().__init__(**kwargs)

    def load_data_list(self) -> List[dict]:
        """Read ``ann_file`` if given, else generate the points."""
        if self.ann_file:
            return super().load_data_list()
        return make_toy_points(self.num_samples, self.num_features, self.seed)

    def parse_data_info(self, raw_data_info: dict) -> dict:
        """Return an annotation entry as is (points carry no file paths)."""
        return dict(raw_data_info)

    def prepare_data(self, idx: int) -> Dict[str, torch.Tensor]:
        """Return ``dict(inputs=..., data_samples=label)`` of item ``idx``."""
        info = self.get_data_info(idx)
        return dict(
            inputs=torch.tensor(info['x'], dtype=torch.float32),
            data_samples=torch.tensor(info['label'], dtype=torch.long))


@MODELS.register_module()
class ToyModel(BaseModel):
    """A two-layer MLP classifier following the ``BaseModel`` contract.

    Args:
        num_features (int): Input dimension. Defaults to 2.
        hidden_channels (int): Hidden width. Defaults to 8.
        num_classes (int): Number of classes. Defaults to 2.
        data_preprocessor (dict | nn.Module, optional): Passed to
            :class:`mmengine.model.BaseModel`.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 num_features: int = 2,
                 hidden_channels: int = 8,
                 num_classes: int = 2,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.linear1 = nn.Linear(num_features, hidden_channels)
        self.linear2 = nn.Linear(hidden_channels, num_classes)

    def forward(self,
                inputs: Union[torch.Tensor, Sequence[torch.Tensor]],
                data_samples: Optional[Union[torch.Tensor,
                                             Sequence[torch.Tensor]]] = None,
                mode: str = 'tensor') -> Union[torch.Tensor, dict, list]:
        """Run the model.

        Args:
            inputs (Tensor | Sequence[Tensor]): Points, ``(N, num_features)``
                or a list of ``(num_features,)``.
            data_samples (Tensor | Sequence[Tensor], optional): Labels,
                ``(N,)`` or a list of scalars. Needed for ``'loss'``.
            mode (str): ``'tensor'`` (logits ``(N, num_classes)``),
                ``'loss'`` (``dict(loss=...)``) or ``'predict'`` (a list of
                ``dict(pred_label, score[, gt_label])``).

        Returns:
            Tensor | dict | list: Depending on ``mode``.
        """
        if isinstance(inputs, (list, tuple)):
            inputs = torch.stack(list(inputs))
        logits = self.linear2(F.relu(self.linear1(inputs)))  # (N, C)
        if mode == 'tensor':
            return logits
        labels = None
        if data_samples is not None:
            labels = (torch.stack(list(data_samples)) if isinstance(
                data_samples, (list, tuple)) else data_samples)
        if mode == 'loss':
            if labels is None:
                raise ValueError("mode='loss' needs data_samples (labels)")
            return dict(loss=F.cross_entropy(logits, labels.long()))
        if mode == 'predict':
            scores = logits.softmax(dim=1)
            preds = []
            for i in range(len(logits)):
                pred = dict(
                    pred_label=int(scores[i].argmax()),
                    score=scores[i].detach().cpu())
                if labels is not None:
                    pred['gt_label'] = int(labels[i])
                preds.append(pred)
            return preds
        raise ValueError(
            f"mode must be 'tensor', 'loss' or 'predict', got {mode!r}")


@METRICS.register_module()
class ToyMetric(BaseMetric):
    """Top-1 accuracy in percent of :class:`ToyModel` predictions.

    Reported as ``'toy/accuracy'`` (``default_prefix='toy'``).

    Args:
        **kwargs: :class:`mmengine.evaluator.BaseMetric` arguments.
    """

    default_prefix = 'toy'

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Store ``(pred_label, gt_label)`` of each prediction."""
        for sample in data_samples:
            self.results.append((sample['pred_label'], sample['gt_label']))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Return ``dict(accuracy=...)`` in percent."""
        correct = sum(int(pred == gt) for pred, gt in results)
        return dict(accuracy=100.0 * correct / max(len(results), 1))


def get_toy_cfg(work_dir: str,
                by_epoch: bool = True,
                max_epochs: int = 2,
                max_iters: int = 8,
                batch_size: int = 4,
                lr: float = 0.1,
                train_dataset: Optional[dict] = None,
                val_dataset: Optional[dict] = None,
                default_scope: str = 'mmext') -> dict:
    """Return a complete runner config built from the toy components.

    Like ``RunnerTestCase.epoch_based_cfg``/``iter_based_cfg``: validation
    every epoch (or every ``max_iters // 2`` iterations), a checkpoint every
    epoch (iteration interval likewise), scalars written by
    ``LocalVisBackend``, ``num_workers=0`` and no multiprocessing start-up.

    Args:
        work_dir (str): Work directory.
        by_epoch (bool): Epoch-based (True) or iteration-based training.
        max_epochs (int): Epochs when ``by_epoch``. Defaults to 2.
        max_iters (int): Iterations when not ``by_epoch``. Defaults to 8.
        batch_size (int): Batch size of every loader. Defaults to 4.
        lr (float): SGD learning rate. Defaults to 0.1.
        train_dataset (dict, optional): Train dataset config; defaults to
            ``ToyDataset(seed=0)``.
        val_dataset (dict, optional): Val/test dataset config; defaults to
            ``ToyDataset(seed=1)``.
        default_scope (str): Defaults to ``'mmext'``. With another scope the
            toy types are prefixed ``'mmext.'``.

    Returns:
        dict: Pass it to ``mmengine.Config`` and ``Runner.from_cfg``.
    """
    prefix = '' if default_scope == 'mmext' else 'mmext.'
    train_dataset = copy.deepcopy(train_dataset) or dict(
        type=f'{prefix}ToyDataset', seed=0)
    val_dataset = copy.deepcopy(val_dataset) or dict(
        type=f'{prefix}ToyDataset', seed=1)

    def loader(dataset: dict, shuffle: bool) -> dict:
        return dict(
            batch_size=batch_size,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=shuffle),
            collate_fn=dict(type='default_collate'),
            dataset=copy.deepcopy(dataset))

    if by_epoch:
        train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
        interval = 1
        param_scheduler = dict(
            type='MultiStepLR', milestones=[max(max_epochs - 1, 1)],
            by_epoch=True)
    else:
        interval = max(max_iters // 2, 1)
        train_cfg = dict(
            by_epoch=False, max_iters=max_iters, val_interval=interval)
        param_scheduler = dict(
            type='MultiStepLR', milestones=[max(max_iters - 1, 1)],
            by_epoch=False)
    return dict(
        default_scope=default_scope,
        custom_imports=dict(
            imports=['mmext.testing.toy'], allow_failed_imports=False),
        work_dir=work_dir,
        model=dict(type=f'{prefix}ToyModel'),
        train_dataloader=loader(train_dataset, True),
        val_dataloader=loader(val_dataset, False),
        test_dataloader=loader(val_dataset, False),
        val_evaluator=dict(type=f'{prefix}ToyMetric'),
        test_evaluator=dict(type=f'{prefix}ToyMetric'),
        train_cfg=train_cfg,
        val_cfg=dict(type='ValLoop'),
        test_cfg=dict(type='TestLoop'),
        optim_wrapper=dict(
            type='OptimWrapper', optimizer=dict(type='SGD', lr=lr,
                                                momentum=0.9)),
        param_scheduler=param_scheduler,
        default_hooks=dict(
            timer=dict(type='IterTimerHook'),
            logger=dict(type='LoggerHook', interval=1),
            param_scheduler=dict(type='ParamSchedulerHook'),
            checkpoint=dict(
                type='CheckpointHook', interval=interval, by_epoch=by_epoch),
            sampler_seed=dict(type='DistSamplerSeedHook')),
        env_cfg=dict(
            cudnn_benchmark=False,
            mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
            dist_cfg=dict(backend='gloo')),
        visualizer=dict(
            type='Visualizer', vis_backends=[dict(type='LocalVisBackend')]),
        log_processor=dict(by_epoch=by_epoch),
        log_level='INFO',
        randomness=dict(seed=0),
        launcher='none')
