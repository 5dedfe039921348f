"""``mmext.GradInversionLoop``: GradInversion as an MMEngine test loop (Yin,
Mallya, Vahdat, Alvarez, Kautz, Molchanov, "See through Gradients: Image
Batch Recovery via GradInversion", CVPR 2021, arXiv 2104.07586).

Put it in ``test_cfg`` and start it with ``tools/invert.py CONFIG
--checkpoint VICTIM.pth`` (or ``tools/test.py``). The loop schedules,
persists and evaluates; :mod:`mmext.inversion` does the rest. For every
attacked batch it takes the target (:func:`mmext.inversion.dataset_target`:
the batch's averaged gradients computed with the victim and the labels
recovered from the last linear layer; or
:func:`mmext.inversion.file_target` for a ``gradients_file``), optimises
the images (:class:`mmext.inversion.GradInversion`), writes
``{work_dir}/gradinversion/batch_{b:03d}.png`` (originals above the
reconstructions) and hands the pairs to the evaluator
(:mod:`mmext.evaluation.metrics.reconstruction`).

Distributed: the batches are shared out over the ranks (batch ``b`` on rank
``b % world_size``, each rank optimising with the unwrapped model), and the
evaluator gathers the results. The optimisation state is saved atomically
every ``checkpoint_interval`` iterations to ``state_rank{R}.pth``; a run with
``resume=True`` continues from it exactly.
"""
import dataclasses
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.dist import get_dist_info
from mmengine.evaluator import Evaluator
from mmengine.logging import print_log
from mmengine.runner import BaseLoop
from mmengine.utils import ProgressBar
from torch import nn
from torch.utils.data import DataLoader

from mmext.inversion import (GradInversion, InversionSettings,
                             InversionTarget, dataset_labels,
                             dataset_target, draw_pool, draw_target_batches,
                             file_target, image_features, load_batch,
                             match_batch_order)
from mmext.inversion.attack import check_settings, valid_range
from mmext.inversion.labels import LABEL_SOURCES
from mmext.inversion.targets import (SAMPLINGS, pixel_mean_std,
                                     unit_images)
from mmext.registry import LOOPS
from mmext.utils.atomic import atomic_torch_save
from mmext.utils.deprecation import warn_moved
from mmext.utils.model import unwrap
from mmext.visualization.inversion_grid import save_pair_grid

#: Names that moved to :mod:`mmext.inversion`; importing them from here
#: still works for one release, with a DeprecationWarning.
_MOVED = {'last_linear_weight_index': 'mmext.inversion.labels'}


def __getattr__(name: str):
    if name in _MOVED:
        import importlib
        warn_moved(f'mmext.engine.runner.gradinversion_loop.{name}',
                   f'{_MOVED[name]}.{name}')
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def build_settings(attack: dict) -> InversionSettings:
    """:class:`InversionSettings` from a config dict, with errors that
    name the field."""
    fields = [f.name for f in dataclasses.fields(InversionSettings)]
    unknown = sorted(set(attack) - set(fields))
    if unknown:
        raise ValueError(f'GradInversionLoop attack: unknown field(s) '
                         f'{unknown}; the fields are {fields}')
    settings = InversionSettings(**attack)
    check_settings(settings)
    return settings


@LOOPS.register_module()
class GradInversionLoop(BaseLoop):
    """Recover attacked batches from their gradients, then evaluate.

    Args:
        runner (Runner): The runner.
        dataloader (DataLoader | dict): Its dataset supplies the attacked
            images (and the extra identifiability pool); batches are drawn
            by :func:`mmext.inversion.draw_target_batches`, not by the
            dataloader's sampler.
        evaluator (Evaluator | dict | list): Usually
            ``mmext.ImageReconstructionMetric``,
            ``mmext.IdentifiabilityPrecision`` and
            ``mmext.LabelRecoveryAccuracy``.
        batch_size (int): Images per attacked batch.
        num_batches (int): Attacked batches; a multiple of the world size.
        sampling (str): ``'distinct_labels'`` or ``'random'``.
        labels (str): ``'recovered'`` (from the gradient, the paper) or
            ``'true'`` (the batch's labels, an upper bound).
        attack (dict): :class:`mmext.inversion.InversionSettings` fields.
        seed (int): Seed of the batch draw and of the attack (batch ``b``
            uses ``seed + b``).
        gradients_file (str, optional): Attack the one batch in this file
            (:func:`mmext.inversion.load_gradients_file`) instead.
        image_shape (Sequence[int], optional): (C, H, W) of the images of
            a gradients file without ``images``.
        pool_size (int): Extra dataset images in the identifiability pool.
        checkpoint_interval (int): Iterations between state saves.
        log_interval (int): Iterations between log lines.
        resume (bool): Continue from ``state_rank{R}.pth`` if it exists.
        out_dir (str): Folder in the work dir for images and state.
    """

    def __init__(self,
                 runner,
                 dataloader: Union[DataLoader, Dict],
                 evaluator: Union[Evaluator, Dict, List],
                 batch_size: int = 8,
                 num_batches: int = 1,
                 sampling: str = 'distinct_labels',
                 labels: str = 'recovered',
                 attack: Optional[dict] = None,
                 seed: int = 0,
                 gradients_file: Optional[str] = None,
                 image_shape: Optional[Sequence[int]] = None,
                 pool_size: int = 0,
                 checkpoint_interval: int = 500,
                 log_interval: int = 100,
                 resume: bool = False,
                 out_dir: str = 'gradinversion') -> None:
        super().__init__(runner, dataloader)
        self.evaluator = (
            runner.build_evaluator(evaluator)
            if isinstance(evaluator, (dict, list)) else evaluator)
        if sampling not in SAMPLINGS:
            raise ValueError(f'GradInversionLoop.sampling must be one of '
                             f'{SAMPLINGS}, got {sampling!r}')
        if labels not in LABEL_SOURCES:
            raise ValueError(f'GradInversionLoop.labels must be one of '
                             f'{LABEL_SOURCES}, got {labels!r}')
        _, world_size = get_dist_info()
        if gradients_file is None and num_batches % world_size:
            raise ValueError(
                f'GradInversionLoop.num_batches={num_batches} must be a '
                f'multiple of the {world_size} processes (each attacks the '
                'same number of batches)')
        if pool_size % world_size:
            raise ValueError(f'GradInversionLoop.pool_size={pool_size} '
                             f'must be a multiple of the {world_size} '
                             'processes')
        self.settings = build_settings(attack or {})
        self.batch_size = batch_size
        self.num_batches = num_batches
        self.sampling = sampling
        self.label_source = labels
        self.seed = seed
        self.gradients_file = gradients_file
        self.image_shape = image_shape
        self.pool_size = pool_size
        self.checkpoint_interval = checkpoint_interval
        self.log_interval = log_interval
        self.resume = resume
        self.out_dir = osp.join(runner.work_dir, out_dir)
        self._progress: Optional[ProgressBar] = None

    # ----------------------------------------------------------- helpers
    @property
    def model(self) -> nn.Module:
        return unwrap(self.runner.model)

    def _state_path(self) -> str:
        rank, _ = get_dist_info()
        return osp.join(self.out_dir, f'state_rank{rank}.pth')

    def _pixel_range(self) -> tuple:
        """(lower, upper, mean, std), each [C]: the normalised bounds of
        [0, 1] pixels and the preprocessor's mean and std in [0, 1] units.
        """
        mean, std = pixel_mean_std(self.model)
        lower, upper = valid_range(mean.tolist(), std.tolist())
        return lower, upper, mean, std

    def _to_unit(self, images: torch.Tensor) -> torch.Tensor:
        """Normalised images -> [0, 1] RGB, the space of the metrics."""
        return unit_images(images, *pixel_mean_std(self.model))

    def _jobs(self) -> List[dict]:
        """This rank's attacked batches."""
        rank, world_size = get_dist_info()
        if self.gradients_file is not None:
            return [dict(batch=0)] if rank == 0 else []
        labels = dataset_labels(self.dataloader.dataset)
        batches = draw_target_batches(labels, self.batch_size,
                                      self.num_batches, self.sampling,
                                      self.seed)
        self._used = {i for batch in batches for i in batch}
        return [
            dict(batch=b, indices=indices)
            for b, indices in enumerate(batches) if b % world_size == rank
        ]

    # -------------------------------------------------------------- run
    def run(self) -> dict:
        """Attack every batch of this rank, evaluate, return the metrics."""
        self.runner.call_hook('before_test')
        self.runner.call_hook('before_test_epoch')
        self.runner.model.eval()
        jobs = self._jobs()
        state = self._read_state()
        rank, _ = get_dist_info()
        if rank == 0:
            self._progress = ProgressBar(
                len(jobs) * self.settings.iterations)
        done: Dict[int, List[dict]] = state.get('done', {})
        for job in jobs:
            if job['batch'] not in done:
                done[job['batch']] = self._attack(job, state, done)
                self._write_state(done, None)
            self.evaluator.process(data_samples=done[job['batch']],
                                   data_batch=None)
        for sample in self._pool():
            self.evaluator.process(data_samples=[sample], data_batch=None)
        metrics = self.evaluator.evaluate(
            (self.num_batches + 1) * (self.batch_size + 1) + self.pool_size)
        self.runner.call_hook('after_test_epoch', metrics=metrics)
        self.runner.call_hook('after_test')
        return metrics

    def _read_state(self) -> dict:
        path = self._state_path()
        if not (self.resume and osp.isfile(path)):
            return {}
        state = torch.load(path, map_location='cpu', weights_only=False)
        if state.get('seed') != self.seed or \
                state.get('batch_size') != self.batch_size:
            raise ValueError(
                f'{path} was written by a run with seed={state.get("seed")} '
                f'and batch_size={state.get("batch_size")}; resume with the '
                'same settings or use a new work_dir')
        print_log(
            f'GradInversion: resuming from {path} ('
            f'{len(state.get("done", {}))} batches done)',
            logger='current')
        return state

    def _write_state(self, done: Dict[int, List[dict]],
                     current: Optional[dict]) -> None:
        atomic_torch_save(
            dict(
                seed=self.seed,
                batch_size=self.batch_size,
                done=done,
                current=current), self._state_path())

    def _target(self, job: dict) -> InversionTarget:
        """The target of one job: a drawn batch or the gradients file."""
        if self.gradients_file is not None:
            return file_target(self.model, self.gradients_file,
                               self.label_source, self.image_shape)
        return dataset_target(self.model, self.dataloader.dataset,
                              job['indices'], self.label_source)

    def _attack(self, job: dict, state: dict,
                done: Dict[int, List[dict]]) -> List[dict]:
        """Optimise one batch; return its evaluator samples."""
        target = self._target(job)
        lower, upper, _, _ = self._pixel_range()
        attack = GradInversion(
            self.model,
            target.gradients,
            target.labels,
            target.image_shape,
            lower,
            upper,
            self.settings,
            seed=self.seed + job['batch'],
            true_images=target.images)
        current = state.get('current')
        if current is not None and current['batch'] == job['batch']:
            attack.load_state_dict(current['attack'])
            if self._progress is not None:
                self._progress.completed = attack.iteration
        try:
            while attack.iteration < self.settings.iterations:
                losses = attack.step()
                self._after_step(job['batch'], attack, losses, done)
        except FloatingPointError as err:
            path = osp.join(self.out_dir,
                            f'batch_{job["batch"]:03d}_best.png')
            save_pair_grid(path, self._to_unit(attack.best_images.mean(0)))
            self._write_state(done, dict(batch=job['batch'],
                                         attack=attack.state_dict()))
            raise FloatingPointError(
                f'{err} The best reconstruction so far is in {path}, the '
                f'optimisation state in {self._state_path()}.') from err
        return self._samples(job, target, attack.result())

    def _after_step(self, batch: int, attack: GradInversion,
                    losses: Dict[str, float],
                    done: Dict[int, List[dict]]) -> None:
        it = attack.iteration
        if self._progress is not None:
            self._progress.update()
        if it % self.log_interval == 0 or it == self.settings.iterations:
            message = ', '.join(f'{k}: {v:.4g}' for k, v in losses.items())
            print_log(f'\nGradInversion batch {batch} iter {it}: {message}',
                      logger='current')
            for key, value in losses.items():
                self.runner.message_hub.update_scalar(f'inversion/{key}',
                                                      value)
        if it % self.checkpoint_interval == 0 and \
                it < self.settings.iterations:
            self._write_state(done, dict(batch=batch,
                                         attack=attack.state_dict()))

    def _samples(self, job: dict, target: InversionTarget,
                 recovered_norm: torch.Tensor) -> List[dict]:
        """Evaluator samples of one finished batch; writes its PNG grid."""
        recovered = self._to_unit(recovered_norm)
        recovered_feats = image_features(self.model, recovered_norm)
        if target.images is None:
            # Nothing to compare with: the grid is the result.
            save_pair_grid(
                osp.join(self.out_dir, f'batch_{job["batch"]:03d}.png'),
                recovered)
            return []
        original = self._to_unit(target.images)
        recovered, perm = match_batch_order(recovered, original)
        save_pair_grid(
            osp.join(self.out_dir, f'batch_{job["batch"]:03d}.png'),
            recovered, original)
        original_feats = target.features
        samples = []
        for i in range(len(recovered)):
            sample = dict(
                recovered=recovered[i],
                original=original[i],
                original_id=target.ids[i])
            if recovered_feats is not None:
                sample['recovered_feature'] = recovered_feats[perm[i]].cpu()
                sample['original_feature'] = original_feats[i].cpu()
            samples.append(sample)
        if target.true_labels is not None and \
                target.recovered_labels is not None:
            samples[0]['batch_labels'] = target.true_labels.tolist()
            samples[0]['recovered_batch_labels'] = \
                target.recovered_labels.tolist()
        return samples

    def _pool(self) -> List[dict]:
        """This rank's share of the extra identifiability pool."""
        if not self.pool_size or self.gradients_file is not None:
            return []
        rank, world_size = get_dist_info()
        dataset = self.dataloader.dataset
        free = draw_pool(len(dataset), self._used, self.pool_size,
                         self.seed + 1)
        mine = free[rank::world_size]
        samples = []
        for start in range(0, len(mine), 32):
            indices = mine[start:start + 32]
            images, _ = load_batch(self.model, dataset, indices)
            feats = image_features(self.model, images)
            for j, index in enumerate(indices):
                sample = dict(
                    original=self._to_unit(images[j:j + 1])[0],
                    original_id=index)
                if feats is not None:
                    sample['original_feature'] = feats[j].cpu()
                samples.append(sample)
        return samples
