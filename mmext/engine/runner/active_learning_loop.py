"""Active learning for detection as an MMEngine train loop.

Elezi et al., "Not All Labels Are Equal: Rationalizing the Labeling Costs
for Training Object Detection" (CVPR 2022, arXiv 2106.11921). Each cycle
trains a detector semi-supervised on the labelled, pseudo-labelled and
unlabelled images (1:1 labelled / unlabelled batches, flip consistency on
all), validates it, scores the unlabelled pool (box entropy and flip
inconsistency), labels a budget of the best-scoring images (the annotation
is simulated from the ground truth), pseudo-labels the rest with the
current model and starts the next cycle.

The pool's state is written to ``<work_dir>/pool_state/cycle_<k>.json``
(the split cycle ``k`` trains on) and ``final.json``, and into every
checkpoint, so ``--resume`` continues a run mid-cycle to the same
selections.
"""
import copy
import os.path as osp
from collections import Counter
from functools import partial
from typing import Any, Dict, List, Optional, Sequence, Union

import torch
from mmengine.dataset import worker_init_fn
from mmengine.dist import broadcast_object_list, get_rank, is_main_process
from mmengine.hooks import Hook
from mmengine.logging import MessageHub, print_log
from mmengine.registry import FUNCTIONS
from mmengine.runner.base_loop import BaseLoop
from torch.utils.data import DataLoader

from mmext.active_learning import RULES, select
from mmext.datasets.active_pool import ActivePoolDataset, pseudo_instances
from mmext.datasets.samplers.balanced_pool_sampler import \
    BalancedPoolSampler
from mmext.registry import DATASETS, LOOPS
from mmext.utils.model import unwrap
from .active_learning.acquisition import score_pool
from .active_learning.pool_state import PoolState
from .active_learning.reset import reinitialise, restart_optimizer
from .active_learning.rng import capture_rng, restore_rng

#: Acquisition fields used by the selection; the rest go to the scorer.
_SELECTION_FIELDS = ('rule', 'filter_num')


class _PoolStateHook(Hook):
    """Puts the loop's pool state (and the random generators) into every
    checkpoint and hands a loaded one back to the loop."""

    priority = 'VERY_LOW'

    def __init__(self, loop: 'ActiveLearningLoop') -> None:
        self.loop = loop

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['active_learning'] = dict(
            pool=self.loop.state.to_dict(), rng=capture_rng())

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self.loop.loaded = checkpoint.get('active_learning')


@LOOPS.register_module()
class ActiveLearningLoop(BaseLoop):
    """Cycles of train, score, select, annotate, pseudo-label (Elezi et al.,
    CVPR 2022).

    ``train_cfg=dict(type='mmext.ActiveLearningLoop', ...)``; the model is
    usually an :class:`mmext.FlipConsistencyDetector`. Training counts
    iterations (``iters_per_cycle`` per cycle, the parameter schedulers
    restart each cycle and must use ``by_epoch=False``); validation runs
    at the end of every cycle.

    Args:
        runner: The runner.
        dataloader: The training pool (``train_dataloader``): its dataset
            is the whole pool with the training pipeline, its batch size
            counts labelled and unlabelled images together (even). Its
            sampler is replaced by the 1:1 labelled / unlabelled stream.
        num_cycles: Acquisition cycles after the initial set (paper: 5).
        initial_labeled: The initial random set: a count, or a fraction of
            the pool in ``(0, 1)``.
        budget: Images labelled per cycle (paper: 1000).
        iters_per_cycle: Training iterations of every cycle.
        score_dataloader: The same pool with the test pipeline (no
            augmentation), to score and pseudo-label;
            ``dict(batch_size=..., dataset=dict(...))``.
        acquisition: ``rule`` (``'random'``, ``'entropy'``,
            ``'inconsistency'``, ``'filter'`` (the default, as in the
            reference code: entropy top ``filter_num``, then inconsistency)
            or ``'product'`` (the paper's unified score)), ``filter_num``,
            and the scorer's
            fields (``score_thr``, ``nms_iou``, ``max_per_class``,
            ``match_iou``, ``mirror_tolerance``; see
            :class:`mmext.models.det.active_learning.FlipScorer`).
        pseudo_label: ``dict(score_thr=...)`` (paper: 0.99 on VOC, 0.75 on
            COCO) or None for no pseudo-labels.
        reinit_each_cycle: Draw new weights at every cycle's start (the
            paper) or continue from the previous cycle's (warm start).
        init_pool_state: A pool state JSON to start from instead of a
            random initial set.
        seed: Seed of the initial set and the random rule (default: the
            runner's seed).
    """

    def __init__(self,
                 runner,
                 dataloader: Union[dict, Any],
                 num_cycles: int,
                 initial_labeled: Union[int, float],
                 budget: int,
                 iters_per_cycle: int,
                 score_dataloader: dict,
                 acquisition: Optional[dict] = None,
                 pseudo_label: Optional[dict] = None,
                 reinit_each_cycle: bool = True,
                 init_pool_state: Optional[str] = None,
                 seed: Optional[int] = None) -> None:
        self._loader_cfg = copy.deepcopy(dataloader)
        super().__init__(runner, dataloader)
        self.pool = self.dataloader.dataset
        self.pool_ids = _image_ids(self.pool, 'train_dataloader.dataset')
        self.position_of = {i: p for p, i in enumerate(self.pool_ids)}
        self.num_cycles = _positive_int('num_cycles', num_cycles, zero=True)
        self.budget = _positive_int('budget', budget)
        self.iters_per_cycle = _positive_int('iters_per_cycle',
                                             iters_per_cycle)
        self.initial_labeled = _initial_count(initial_labeled,
                                              len(self.pool_ids))
        needed = self.initial_labeled + self.num_cycles * self.budget
        if needed > len(self.pool_ids):
            raise ValueError(
                f'train_cfg.budget={budget}: {self.num_cycles} cycles of it '
                f'after {self.initial_labeled} initial images need {needed} '
                f'images, the pool has {len(self.pool_ids)}; lower the '
                'budget, num_cycles or initial_labeled')
        self.batch_size = int(self._loader_cfg['batch_size'])
        if self.batch_size % 2:
            raise ValueError(
                f'train_dataloader.batch_size={self.batch_size}: every batch '
                'holds as many labelled as unlabelled images; use an even '
                'batch size')
        acquisition = {'rule': 'filter', **(acquisition or {})}
        if acquisition['rule'] not in RULES:
            raise ValueError(f'train_cfg.acquisition.rule='
                             f'{acquisition["rule"]!r}: expected one of '
                             f'{RULES}')
        self.selection = {k: acquisition.pop(k) for k in _SELECTION_FIELDS
                          if k in acquisition}
        self.scorer_cfg = acquisition
        self.pseudo_score_thr = None if pseudo_label is None else float(
            pseudo_label['score_thr'])
        self.reinit_each_cycle = reinit_each_cycle
        self.seed = runner.seed if seed is None else seed
        self._check_schedulers(runner.cfg.get('param_scheduler'))
        self.score_loader_cfg = copy.deepcopy(score_dataloader)
        self.score_pool = DATASETS.build(score_dataloader['dataset'])
        self._check_same_images(self.score_pool)
        self.init_pool_state = init_pool_state
        self._max_iters = self.iters_per_cycle * (self.num_cycles + 1)
        self._iter = 0
        self._epoch = 0
        self.state: Optional[PoolState] = None
        self.loaded: Optional[dict] = None
        self.stop_training = False
        self.runner.register_hook(_PoolStateHook(self))
        from mmext.models.det.active_learning import check_scorable
        check_scorable(unwrap(runner.model))

    # ------------------------------------------------------------ checks
    def _check_schedulers(self, schedulers: Any) -> None:
        for index, scheduler in enumerate(schedulers or []):
            if scheduler.get('by_epoch', True):
                raise ValueError(
                    f'param_scheduler[{index}] ({scheduler.get("type")}): '
                    'ActiveLearningLoop counts iterations and restarts the '
                    'schedule every cycle; set by_epoch=False and give '
                    'begin/end in iterations of one cycle')

    def _check_same_images(self, dataset: Any) -> None:
        ids = _image_ids(dataset, 'train_cfg.score_dataloader.dataset')
        if ids != self.pool_ids:
            raise ValueError(
                'train_cfg.score_dataloader.dataset must list the same '
                f'images as train_dataloader.dataset in the same order '
                f'({len(ids)} against {len(self.pool_ids)} images); give it '
                'the same ann_file and filter_cfg with the test pipeline')

    # -------------------------------------------------------- properties
    @property
    def max_epochs(self) -> int:
        return 1

    @property
    def max_iters(self) -> int:
        return self._max_iters

    @property
    def epoch(self) -> int:
        return self._epoch

    @property
    def iter(self) -> int:
        return self._iter

    @property
    def model(self):
        return unwrap(self.runner.model)

    # -------------------------------------------------------------- run
    def run(self):
        """Train every cycle, acquiring between them."""
        self.runner.call_hook('before_train')
        self.runner.call_hook('before_train_epoch')
        self._restore_or_start()
        while True:
            cycle = self.state.cycle
            cycle_end = (cycle + 1) * self.iters_per_cycle
            if self._iter < cycle_end:
                if self._iter == cycle * self.iters_per_cycle and cycle > 0:
                    self._start_cycle()
                self._train_until(cycle_end)
            metrics = self._validate()
            if cycle == self.num_cycles:
                record = self._cycle_record(metrics)
                self.state.history.append(record)
                self._write_state('final.json')
                self._report(record)
                break
            self._acquire(metrics)
        self.runner.call_hook('after_train_epoch')
        self.runner.call_hook('after_train')
        return self.runner.model

    def _restore_or_start(self) -> None:
        if self._iter > 0:
            if self.loaded is None:
                raise ValueError(
                    'resume: the checkpoint holds no active-learning pool '
                    'state; resume from a checkpoint of ActiveLearningLoop')
            self.state = PoolState.from_dict(self.loaded['pool'],
                                             'the resumed checkpoint')
            self.state.check_pool(self.pool_ids, 'the resumed checkpoint')
            restore_rng(self.loaded['rng'])
            print_log(f'active learning resumed in cycle {self.state.cycle} '
                      f'at iteration {self._iter}', logger='current')
            return
        if self.init_pool_state is not None:
            self.state = PoolState.read(self.init_pool_state,
                                        'train_cfg.init_pool_state')
            self.state.check_pool(self.pool_ids, 'train_cfg.init_pool_state')
            self.state.cycle = 0
        else:
            generator = torch.Generator().manual_seed(self.seed)
            order = torch.randperm(len(self.pool_ids), generator=generator)
            self.state = PoolState(
                seed=self.seed, cycle=0, pool_ids=list(self.pool_ids),
                labelled=[self.pool_ids[int(i)]
                          for i in order[:self.initial_labeled]])
        self._write_state('cycle_0.json')

    def _start_cycle(self) -> None:
        """New weights (or the previous cycle's), a fresh optimizer and
        schedule."""
        if self.reinit_each_cycle:
            reinitialise(self.model)
        restart_optimizer(self.runner.optim_wrapper)
        schedulers = self.runner.cfg.get('param_scheduler')
        if schedulers:
            self.runner.param_schedulers = \
                self.runner.build_param_scheduler(copy.deepcopy(schedulers))

    # --------------------------------------------------------- training
    def _train_dataset(self) -> ActivePoolDataset:
        labelled = set(self.state.labelled)
        entries, pseudo = [], {}
        for position, img_id in enumerate(self.pool_ids):
            labels = self.state.pseudo.get(str(img_id))
            if img_id in labelled:
                entries.append((position, 'labelled'))
            elif labels is not None:
                entries.append((position, 'pseudo'))
                pseudo[position] = pseudo_instances(labels.bboxes,
                                                    labels.labels)
            else:
                entries.append((position, 'unlabelled'))
        return ActivePoolDataset(self.pool, entries, pseudo)

    def _train_until(self, cycle_end: int) -> None:
        cycle = self.state.cycle
        done = self._iter - cycle * self.iters_per_cycle
        dataset = self._train_dataset()
        sampler = BalancedPoolSampler(
            dataset.indices_of('labelled'),
            dataset.indices_of('pseudo', 'unlabelled'),
            seed=self.seed * 1000 + cycle,
            start=done * self.batch_size)
        loader = DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            num_workers=int(self._loader_cfg.get('num_workers', 0)),
            collate_fn=_collate_fn(self._loader_cfg),
            worker_init_fn=partial(
                worker_init_fn,
                num_workers=int(self._loader_cfg.get('num_workers', 0)),
                rank=get_rank(),
                seed=self.seed),
            # Its own generator: the workers' seeds do not consume the
            # global one, so a resumed cycle draws what the run drew.
            generator=torch.Generator().manual_seed(self.seed * 1000 +
                                                    cycle))
        batches = iter(loader)
        hub = MessageHub.get_current_instance()
        while self._iter < cycle_end:
            self.runner.model.train()
            hub.update_info('al_cycle', cycle)
            hub.update_info('al_cycle_iter',
                            self._iter - cycle * self.iters_per_cycle)
            self._run_iter(next(batches))

    def _run_iter(self, data_batch: Sequence[dict]) -> None:
        self.runner.call_hook('before_train_iter', batch_idx=self._iter,
                              data_batch=data_batch)
        outputs = self.runner.model.train_step(
            data_batch, optim_wrapper=self.runner.optim_wrapper)
        self.runner.call_hook('after_train_iter', batch_idx=self._iter,
                              data_batch=data_batch, outputs=outputs)
        self._iter += 1

    def _validate(self) -> Dict[str, float]:
        if self.runner.val_loop is None:
            return {}
        metrics = self.runner.val_loop.run()
        return {k: float(v) for k, v in (metrics or {}).items()
                if isinstance(v, (int, float))}

    # ------------------------------------------------------ acquisition
    def _scorer(self):
        if self.selection.get('rule', 'filter') == 'random':
            return None
        from mmext.models.det.active_learning import FlipScorer
        return FlipScorer(self.model, **self.scorer_cfg)

    def _acquire(self, metrics: Dict[str, float]) -> None:
        """Score, select, annotate and pseudo-label; then the next cycle's
        state is written."""
        state = self.state
        unlabelled = state.unlabelled
        positions = [self.position_of[i] for i in unlabelled]
        print_log(f'cycle {state.cycle}: scoring {len(positions)} unlabelled '
                  'images', logger='current')
        scorer = self._scorer()
        if scorer is None and self.pseudo_score_thr is None:
            positions_to_score: List[int] = []  # nothing to compute
        else:
            positions_to_score = positions
        results = score_pool(
            self.model, scorer, self.score_pool, positions_to_score,
            batch_size=int(self.score_loader_cfg.get('batch_size', 1)),
            collate_fn=_collate_fn(self.score_loader_cfg),
            pseudo_score_thr=self.pseudo_score_thr)
        empty = dict(entropy=0.0, inconsistency=0.0, pseudo=None)
        results = {p: results.get(p, empty) for p in positions}
        scores = {
            key: torch.tensor([results[p][key] for p in positions])
            for key in ('entropy', 'inconsistency')
        }
        rule = self.selection.get('rule', 'filter')
        generator = torch.Generator().manual_seed(self.seed * 1000 +
                                                  state.cycle)
        chosen = select(scores, self.budget, rule,
                        self.selection.get('filter_num'), generator).tolist()
        shared = [chosen]
        broadcast_object_list(shared, src=0)
        selected = [unlabelled[i] for i in shared[0]]
        record = self._cycle_record(metrics)
        record.update(selected=selected,
                      selected_classes=self._class_histogram(selected))
        state.history.append(record)
        state.label(selected)
        state.scores = {
            str(unlabelled[i]): dict(entropy=float(scores['entropy'][i]),
                                     inconsistency=float(
                                         scores['inconsistency'][i]))
            for i in range(len(unlabelled))
        }
        labelled = set(state.labelled)
        state.pseudo = {
            str(self.pool_ids[p]): results[p]['pseudo']
            for p in positions
            if results[p]['pseudo'] is not None
            and self.pool_ids[p] not in labelled
        }
        state.cycle += 1
        self._write_state(f'cycle_{state.cycle}.json')
        self._report(record)

    def _cycle_record(self, metrics: Dict[str, float]) -> Dict[str, Any]:
        return dict(cycle=self.state.cycle,
                    num_labelled=len(self.state.labelled),
                    num_pseudo=len(self.state.pseudo),
                    metrics=metrics)

    def _class_histogram(self, ids: Sequence[int]) -> Dict[str, int]:
        classes = self.pool.metainfo.get('classes', ())
        counts = Counter(
            instance['bbox_label'] for i in ids for instance in
            self.pool.get_data_info(self.position_of[i])['instances'])
        return {
            (classes[k] if k < len(classes) else str(k)): counts[k]
            for k in sorted(counts)
        }

    def _report(self, record: Dict[str, Any]) -> None:
        metrics = ', '.join(f'{k}: {v:.4f}'
                            for k, v in record['metrics'].items())
        selection = record.get('selected_classes')
        chosen = ('; last cycle' if selection is None else
                  f'; selected {len(record["selected"])} images, objects '
                  f'per class {selection}')
        print_log(
            f'cycle {record["cycle"]}: {record["num_labelled"]} labelled, '
            f'{record["num_pseudo"]} pseudo-labelled; {metrics}{chosen}',
            logger='current')
        scalars = {f'active_learning/{k}': v
                   for k, v in record['metrics'].items()}
        scalars['active_learning/num_labelled'] = record['num_labelled']
        scalars['active_learning/num_pseudo'] = record['num_pseudo']
        scalars.update({
            f'active_learning/selected/{name}': count
            for name, count in (selection or {}).items()
        })
        self.runner.visualizer.add_scalars(scalars, step=record['cycle'])

    def _write_state(self, name: str) -> None:
        if is_main_process():
            self.state.write(
                osp.join(self.runner.work_dir, 'pool_state', name))


def _collate_fn(loader_cfg: dict):
    """The collate function a dataloader config names (MMEngine's
    ``pseudo_collate`` by default)."""
    collate = dict(loader_cfg.get('collate_fn') or dict(type='pseudo_collate'))
    function = collate.pop('type')
    if isinstance(function, str):
        function = FUNCTIONS.get(function)
    return partial(function, **collate)


def _image_ids(dataset: Any, field: str) -> list:
    """The ``img_id`` of every image of a data set, checked distinct."""
    ids = [dataset.get_data_info(i)['img_id'] for i in range(len(dataset))]
    if len(set(map(str, ids))) != len(ids):
        raise ValueError(f'{field}: images must have distinct img_id values '
                         '(active learning names images by them)')
    return ids


def _positive_int(name: str, value: Any, zero: bool = False) -> int:
    if not isinstance(value, int) or value < (0 if zero else 1):
        raise ValueError(f'train_cfg.{name}={value!r}: expected an integer '
                         f'>= {0 if zero else 1}')
    return value


def _initial_count(value: Union[int, float], pool_size: int) -> int:
    """``initial_labeled`` as a number of images."""
    if isinstance(value, float) and 0 < value < 1:
        count = int(round(value * pool_size))
    elif isinstance(value, int) and value >= 1:
        count = value
    else:
        raise ValueError(f'train_cfg.initial_labeled={value!r}: a count >= 1 '
                         'or a fraction in (0, 1)')
    if count > pool_size:
        raise ValueError(
            f'train_cfg.initial_labeled={value!r}: {count} images asked, the '
            f'pool has {pool_size}; lower it or use a fraction')
    return max(count, 1)
