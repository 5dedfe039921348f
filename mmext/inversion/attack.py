"""GradInversion's optimisation in plain PyTorch (Yin, Mallya, Vahdat,
Alvarez, Kautz, Molchanov, "See through Gradients: Image Batch Recovery via
GradInversion", CVPR 2021, arXiv 2104.07586).

``|G|`` candidate batches (seeds) start from N(0, 1) noise and are
optimised with Adam (warm-up, cosine decay) on::

    a_G sum_l ||g_l(x) - dW_l||_2 + a_BN R_BN(x) + a_tv R_TV(x)
        + a_l2 ||x||_2 + a_group ||x - E(x_G)||_2

plus Langevin-style noise after each step (``x += lr(t) a_n eta``) and a
clamp to the valid normalised image range. The group consensus ``E`` is
the mean of the seeds after registering each to their pixel mean
(:mod:`.registration`: phase-correlation translations where the paper uses
RANSAC-Flow; ``registration='none'`` is the paper's "lazy" mean), refreshed
every ``group_every`` iterations from ``group_start`` on. Defaults are the
paper's weights and schedule (Sec. 3.5: |G| = 8, Adam at lr 0.1 with a
50-iteration warm-up, a_tv 1e-4, a_l2 1e-6, a_BN 0.1, a_G 1e-3, a_group
0.01, a_n 0.2); the paper does not state the iteration count, and 20k
follows the public reimplementation in JonasGeiping/breaching
(``breaching/config/attack/seethroughgradients.yaml``).

Each seed's objective is the paper's for that seed alone: its own weight
gradient and its own BatchNorm statistics. The seeds can be evaluated one
after the other (a Python loop, one seed's graph at a time) or as one
batched computation (:mod:`.batched`: :func:`torch.func.vmap` over the
seed dimension), and on a CPU by several threads at once, each on a block
of seeds (:mod:`.seed_workers`). All give the same objective and images up
to rounding; ``InversionSettings.batched_seeds`` and ``seed_workers``
choose, and by default pick what measured fastest (docs/benchmarks.md).
Either way only the images are differentiated, never the victim's weights.
"""
import math
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from mmext.utils.validation import is_int_at_least

from .batched import map_seeds, seed_forward, trainable_parameters
from .gradients import batch_gradients, classifier_logits
from .objective import BNStatisticsPrior, cosine_distance_from_products, \
    cosine_gradient_distance, gradient_matching_loss, l2_prior, \
    square_norm, total_variation_prior, warmup_cosine_lr
from .pooled import pooled_gradient_products, pooled_unsupported_reason
from .registration import group_consensus
from .seed_workers import Victim, build_victims, resolve_seed_workers, \
    run_on_workers, seed_blocks


_DISTANCE_FUNCTIONS = {
    'l2': gradient_matching_loss,
    'cosine': cosine_gradient_distance
}
GRADIENT_DISTANCES = tuple(_DISTANCE_FUNCTIONS)
INITS = ('random', 'oracle')


@dataclass
class InversionSettings:
    """Weights and schedule; the defaults are the paper's.

    ``grad_distance`` is ``'l2'`` (the paper: per-layer L2 norms, summed)
    or ``'cosine'`` (:func:`cosine_gradient_distance`).

    ``init`` is ``'random'`` (the paper: every seed starts from N(0, 1)
    noise in the normalised image space) or ``'oracle'``, a diagnostic an
    attacker cannot run: every seed starts from the true batch plus
    ``init_noise`` times that noise. It tells whether the objective's
    optimum near the truth is a good reconstruction (then a failure from
    random starts is the optimisation's) or not (then it is the
    objective's).

    How the seeds are evaluated (the same objective per seed and the same
    images up to floating-point rounding, which grows over Adam's steps in
    float32; in float64 the paths agree to ~1e-12):

    - ``seed_workers``: threads that evaluate disjoint, contiguous blocks of
      seeds at the same time, each on its own copy of the victim and with
      its share of torch's intra-op threads (:mod:`.seed_workers`). None
      (the default): 1 with the pooled path; otherwise on a CPU one per
      intra-op thread (:func:`torch.get_num_threads`), at most one per
      seed, and elsewhere 1.
      While a step runs, torch's process-wide intra-op thread count is
      divided among them.
    - ``pooled_seeds``: a block's seeds in one forward of all their
      images, each seed's cosine gradient distance from per-layer inner
      products and squared norms of its gradient (:mod:`.pooled`), which
      never forms the seeds' weight gradients of the late layers. It needs
      ``grad_distance='cosine'`` (or no gradient term) and a victim in eval
      mode whose trainable parameters are all in Conv2d, Linear and
      BatchNorm layers; None (the default) uses it wherever it can, True
      raises a ValueError naming what prevents it. ``batched_seeds`` then
      has no effect.
    - ``batched_seeds``: a block's seeds as one batched computation
      (:mod:`.batched`; True) or one after the other (False). The batched
      path holds every seed's graph at once, about G times the loop's
      activation memory (348 MB instead of 65 MB for 4 seeds of 8 64-px
      images). None (the default): batched when one worker evaluates all
      seeds, one after the other when several threads do.

    The defaults are what measured fastest on the 2-core CPU for 4 seeds
    of 8 64-px images (``tools/analysis_tools/
    benchmark_gradinversion_restarts.py``, figures in docs/benchmarks.md):
    the pooled path on one worker with 2 intra-op threads was 1.68-1.72x
    the loop over five runs (1.61x on one intra-op thread); in the same
    run, 2 threads running their seeds one after the other were 1.23x and
    one batched computation 1.19x. Without the pooled path
    (``grad_distance='l2'``, other layers), ``seed_workers=None`` runs one
    thread per intra-op thread, ``batched_seeds=None`` the seeds one after
    the other in each (one batched computation with one worker). The
    pooled and the batched paths hold every seed's graph at once (peak
    growth for 4 seeds of 8 64-px images: pooled 158 MB, batched 348 MB,
    the loop 65 MB, 2 threads 220 MB): set ``pooled_seeds=False`` and
    ``batched_seeds=False`` where memory is short.
    """
    iterations: int = 20000
    lr: float = 0.1
    warmup: int = 50
    grad_weight: float = 1e-3
    grad_distance: str = 'l2'
    bn_weight: float = 0.1
    tv_weight: float = 1e-4
    l2_weight: float = 1e-6
    group_weight: float = 0.01
    noise: float = 0.2
    num_seeds: int = 8
    group_start: int = 5000
    group_every: int = 100
    first_bn_multiplier: float = 10.0
    registration: str = 'translation'
    init: str = 'random'
    init_noise: float = 0.5
    batched_seeds: Optional[bool] = None
    seed_workers: Optional[int] = None
    pooled_seeds: Optional[bool] = None


class GradInversion:
    """Recover a batch of images from its averaged gradients.

    Args:
        model (nn.Module): The attacked classifier, in eval mode.
        target_gradients (Sequence[Tensor]): The observed gradients, one
            per trainable parameter (:func:`batch_gradients` order).
        labels (LongTensor): The batch's labels [N] (recovered with
            :func:`mmext.inversion.recover_labels`, or known).
        image_shape (Sequence[int]): (C, H, W).
        lower (Tensor): Smallest valid normalised value per channel [C].
        upper (Tensor): Largest valid normalised value per channel [C].
        settings (InversionSettings): Weights and schedule.
        seed (int): Seed of the initial images and of the noise.
        true_images (Tensor, optional): The attacked batch [N, C, H, W],
            normalised; needed only by ``settings.init='oracle'``.
    """

    def __init__(self,
                 model: nn.Module,
                 target_gradients: Sequence[torch.Tensor],
                 labels: torch.Tensor,
                 image_shape: Sequence[int],
                 lower: torch.Tensor,
                 upper: torch.Tensor,
                 settings: Optional[InversionSettings] = None,
                 seed: int = 0,
                 true_images: Optional[torch.Tensor] = None) -> None:
        self.model = model
        self.settings = settings or InversionSettings()
        check_settings(self.settings)
        self.targets = [g.detach() for g in target_gradients]
        self.labels = labels
        device = self.targets[0].device
        dtype = self.targets[0].dtype
        shape = (self.settings.num_seeds, len(labels), *image_shape)
        self.lower = lower.to(device, dtype).view(1, 1, -1, 1, 1)
        self.upper = upper.to(device, dtype).view(1, 1, -1, 1, 1)
        self.generator = torch.Generator(device=device).manual_seed(seed)
        start = torch.randn(shape, generator=self.generator, device=device,
                            dtype=dtype)
        if self.settings.init == 'oracle':
            if true_images is None:
                raise ValueError(
                    "attack.init='oracle' starts from the true images; pass "
                    'true_images (the loop does when it knows the batch: a '
                    "dataset batch or a gradients file with 'images')")
            start = true_images.detach().to(device, dtype).unsqueeze(0) + \
                self.settings.init_noise * start
        self.images = start.clamp_(self.lower,
                                   self.upper).requires_grad_(True)
        self.optimizer = torch.optim.Adam([self.images],
                                          lr=self.settings.lr,
                                          betas=(0.9, 0.999))
        self.bn_prior = (
            BNStatisticsPrior(model, self.settings.first_bn_multiplier)
            if self.settings.bn_weight else None)
        #: Whether a block's seeds are one pooled forward (:mod:`.pooled`).
        self.pooled = resolve_pooled_seeds(self.settings, model)
        workers = self.settings.seed_workers
        if workers is None and self.pooled:
            workers = 1  # one pooled forward on every intra-op thread
        #: Threads that evaluate the seeds, each a block of them on its own
        #: victim (:mod:`.seed_workers`).
        self.workers = resolve_seed_workers(workers, self.settings.num_seeds,
                                            device)
        self.blocks = seed_blocks(self.settings.num_seeds, self.workers)
        #: Whether a block's seeds are one batched computation.
        self.batched = (self.workers == 1
                        if self.settings.batched_seeds is None else
                        self.settings.batched_seeds)
        #: ||dW||^2 of the observed gradients (the pooled path's cosine).
        self.target_square = square_norm(self.targets)
        self.victims = build_victims(model, self.bn_prior, self.workers)
        self.consensus: Optional[torch.Tensor] = None
        self.iteration = 0
        self.best_loss = math.inf
        self.best_images = self.images.detach().clone()

    def _model_terms(self, distance: Optional[torch.Tensor],
                     bn: Optional[torch.Tensor]) -> Dict[str, torch.Tensor]:
        """The weighted terms the victim gives, in the order bn, gradient
        (those that are on).

        Args:
            distance (Tensor, optional): The gradient distance, one value
                per seed (any shape); None when the term is off.
            bn (Tensor, optional): The BN prior, the same shape; None when
                off.
        """
        s = self.settings
        parts = {}
        if bn is not None:
            parts['bn'] = s.bn_weight * bn
        if distance is not None:
            parts['gradient'] = s.grad_weight * distance
        return parts

    def _weighted_terms(self, x: torch.Tensor,
                        grads: Optional[Sequence[torch.Tensor]],
                        bn: Optional[torch.Tensor]) -> Dict[str, torch.Tensor]:
        """One seed's weighted objective terms (the loop and the batched
        path, where :func:`torch.func.vmap` maps it over the seeds).

        Args:
            x (Tensor): The seed's images [N, C, H, W].
            grads (Sequence[Tensor], optional): Their gradients, one per
                trainable parameter, differentiable w.r.t. ``x``; None when
                the gradient term is off.
            bn (Tensor, optional): Their BN prior (scalar); None when off.

        Returns:
            dict[str, Tensor]: Term name -> scalar, in the order
            bn, gradient, tv, l2, group (those that are on).
        """
        distance = None if grads is None else gradient_distance(
            self.settings.grad_distance)(grads, self.targets)
        return {**self._model_terms(distance, bn), **self._image_terms(x)}

    def _image_terms(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        """The weighted image priors of one seed or several, in the order
        tv, l2, group (those that are on).

        Args:
            x (Tensor): One seed's images [N, C, H, W] (terms: scalars) or
                S seeds' [S, N, C, H, W] (terms: [S]).
        """
        s = self.settings
        parts = {}
        parts['tv'] = s.tv_weight * total_variation_prior(x)
        parts['l2'] = s.l2_weight * l2_prior(x)
        if self.consensus is not None and s.group_weight:
            parts['group'] = s.group_weight * (
                x - self.consensus).flatten(-4).norm(dim=-1)
        return parts

    def _seed_objective(self, x: torch.Tensor,
                        victim: Victim) -> Dict[str, torch.Tensor]:
        """One seed's weighted terms (scalars), by ordinary autograd.

        Args:
            x (Tensor): The seed's images [N, C, H, W].
            victim (Victim): The model (and BN prior) to evaluate them on.
        """
        grads = None
        # One forward feeds both the BN prior (hooks) and, when the gradient
        # term is on, the candidate's gradients (create_graph for d/dx).
        bn_prior = victim.bn_prior
        with bn_prior if bn_prior is not None else nullcontext():
            if self.settings.grad_weight:
                grads = batch_gradients(victim.model, x, self.labels,
                                        create_graph=True)
            else:
                classifier_logits(victim.model, x)
        bn = bn_prior.loss if bn_prior is not None else None
        return self._weighted_terms(x, grads, bn)

    def _batched_objective(self, images: torch.Tensor,
                           victim: Victim) -> Dict[str, torch.Tensor]:
        """Some seeds' weighted terms at once (:mod:`.batched`).

        Args:
            images (Tensor): The seeds' images [S, N, C, H, W].
            victim (Victim): The model (and BN prior) to evaluate them on.

        Returns:
            dict[str, Tensor]: Term name -> [S].
        """
        params = trainable_parameters(victim.model)

        def one_seed(x: torch.Tensor) -> Dict[str, torch.Tensor]:
            grads, bn = seed_forward(victim.model, params, x, self.labels,
                                     victim.bn_prior,
                                     bool(self.settings.grad_weight))
            return self._weighted_terms(x, grads, bn)

        return map_seeds(one_seed, images)

    def _pooled_objective(self, images: torch.Tensor,
                          victim: Victim) -> Dict[str, torch.Tensor]:
        """Some seeds' weighted terms from one forward of all their images
        (:mod:`.pooled`).

        Args:
            images (Tensor): The seeds' images [S, N, C, H, W].
            victim (Victim): The model (and BN prior) to evaluate them on.

        Returns:
            dict[str, Tensor]: Term name -> [S].
        """
        bn_prior = victim.bn_prior
        distance = None
        with (bn_prior.per_seed(len(images))
              if bn_prior is not None else nullcontext()):
            if self.settings.grad_weight:
                dot, square = pooled_gradient_products(
                    victim.model, images, self.labels, self.targets)
                distance = cosine_distance_from_products(
                    dot, square, self.target_square)
            elif bn_prior is not None:
                classifier_logits(victim.model, images.flatten(0, 1))
        bn = bn_prior.loss if bn_prior is not None else None
        return {**self._model_terms(distance, bn), **self._image_terms(images)}

    def seed_terms(self) -> Dict[str, torch.Tensor]:
        """The weighted objective terms of every seed at the current images.

        Uses the configured path (:attr:`batched`), on one thread; all give
        the same values up to rounding. :meth:`step` minimises the sum of
        all terms and seeds.

        Returns:
            dict[str, Tensor]: Term name -> [G] (seed ``g``'s value at
            ``g``), differentiable with respect to :attr:`images`.
        """
        victim = self.victims[0]
        if self.pooled:
            return self._pooled_objective(self.images, victim)
        if self.batched:
            return self._batched_objective(self.images, victim)
        per_seed = [self._seed_objective(x, victim) for x in self.images]
        return {key: torch.stack([parts[key] for parts in per_seed])
                for key in per_seed[0]}

    def _check_finite(self, table: List[List[float]], names: Sequence[str],
                      seeds: Sequence[int]) -> None:
        """Raise FloatingPointError naming the first seed whose objective
        is not finite.

        Args:
            table (list[list[float]]): [K][S] the K terms of S seeds.
            names (Sequence[str]): The K term names.
            seeds (Sequence[int]): The S seeds' indices.
        """
        for column, g in enumerate(seeds):
            terms = {name: row[column] for name, row in zip(names, table)}
            loss = sum(terms.values())
            if not math.isfinite(loss):
                raise FloatingPointError(
                    f'GradInversion: the objective is {loss} at '
                    f'iteration {self.iteration} (seed {g}, terms {terms}); '
                    'lower lr or the term weights. The best images so far '
                    'are kept in best_images.')

    def _differentiate(self, parts: Dict[str, torch.Tensor],
                       seeds: Sequence[int], images: torch.Tensor
                       ) -> Tuple[List[List[float]], torch.Tensor]:
        """Check some seeds' terms and differentiate them by their images.

        Only the images are differentiated: no gradient reaches the
        victim's parameters.

        Args:
            parts (dict[str, Tensor]): Term name -> [S], the weighted terms
                of the seeds ``seeds``.
            seeds (Sequence[int]): The S seeds' indices.
            images (Tensor): The view of :attr:`images` the terms were
                computed from.

        Returns:
            tuple: ``(table, gradient)``: [K][S] the terms' values (one
            host copy) and d(sum of the terms) / d ``images``.
        """
        table = torch.stack([v.detach() for v in parts.values()]).tolist()
        self._check_finite(table, list(parts), seeds)
        gradient, = torch.autograd.grad(sum(parts.values()).sum(), images)
        return table, gradient

    def _block_gradient(self, seeds: range, victim: Victim
                        ) -> Tuple[Dict[str, List[float]], torch.Tensor]:
        """The objective of the seeds ``seeds`` on ``victim``: each term's
        value per seed (name -> [S] floats) and its gradient with respect
        to the seeds' images [S, N, C, H, W]."""
        images = self.images[seeds.start:seeds.stop]
        if self.pooled or self.batched:
            parts = (self._pooled_objective(images, victim) if self.pooled
                     else self._batched_objective(images, victim))
            table, gradient = self._differentiate(parts, seeds, images)
            return dict(zip(parts, table)), gradient
        values: Dict[str, List[float]] = {}
        gradients = []
        for g, x in zip(seeds, images.unbind(0)):
            parts = {key: value.unsqueeze(0)
                     for key, value in self._seed_objective(x,
                                                            victim).items()}
            table, gradient = self._differentiate(parts, [g], x)
            for key, row in zip(parts, table):
                values.setdefault(key, []).extend(row)
            gradients.append(gradient)
        return values, torch.stack(gradients)

    def _backward_all_seeds(self) -> Dict[str, List[float]]:
        """Fill ``images.grad`` with the objective's gradient; return each
        term's value per seed (name -> [G] floats). The blocks of seeds of
        :attr:`workers` threads run at the same time (:mod:`.seed_workers`).
        """
        results = run_on_workers(self._block_gradient, self.blocks,
                                 self.victims)
        self.images.grad = torch.cat([gradient for _, gradient in results])
        values: Dict[str, List[float]] = {}
        for block_values, _ in results:
            for key, row in block_values.items():
                values.setdefault(key, []).extend(row)
        return values

    def step(self) -> Dict[str, float]:
        """One Adam step on every seed; the losses summed over seeds.

        Raises:
            FloatingPointError: If the objective is not finite; the best
                images so far stay in :attr:`best_images`.
        """
        s = self.settings
        if (self.iteration >= s.group_start and s.num_seeds > 1
                and (self.iteration - s.group_start) % s.group_every == 0):
            self.consensus = group_consensus(self.images.detach(),
                                             s.registration)
        lr = warmup_cosine_lr(self.iteration, s.iterations, s.warmup, s.lr)
        for group in self.optimizer.param_groups:
            group['lr'] = lr
        values = self._backward_all_seeds()
        totals = {key: sum(row) for key, row in values.items()}
        # Seed by seed, each seed's terms in order: the loop's summation.
        total = sum(
            sum(row[g] for row in values.values())
            for g in range(s.num_seeds))
        if total < self.best_loss:
            self.best_loss = total
            self.best_images = self.images.detach().clone()
        self.optimizer.step()
        with torch.no_grad():
            if s.noise:
                self.images.add_(lr * s.noise * torch.randn(
                    self.images.shape, generator=self.generator,
                    device=self.images.device, dtype=self.images.dtype))
            self.images.clamp_(self.lower, self.upper)
        self.iteration += 1
        totals['total'] = total
        totals['lr'] = lr
        return totals

    def result(self) -> torch.Tensor:
        """The reconstruction [N, C, H, W]: the seeds' consensus
        (:func:`group_consensus` with the configured registration)."""
        return group_consensus(self.images.detach(),
                               self.settings.registration)

    def state_dict(self) -> dict:
        """Everything needed to continue exactly (images, Adam, RNG)."""
        return dict(
            settings=asdict(self.settings),
            images=self.images.detach().clone(),
            optimizer=self.optimizer.state_dict(),
            generator=self.generator.get_state(),
            consensus=self.consensus,
            iteration=self.iteration,
            best_loss=self.best_loss,
            best_images=self.best_images)

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` output (same settings and batch)."""
        if state['images'].shape != self.images.shape:
            raise ValueError(
                'GradInversion.load_state_dict: the saved images have shape '
                f'{tuple(state["images"].shape)}, this attack '
                f'{tuple(self.images.shape)}; resume with the same batch, '
                'image size and num_seeds')
        with torch.no_grad():
            self.images.copy_(state['images'])
        self.optimizer.load_state_dict(state['optimizer'])
        self.generator.set_state(state['generator'])
        self.consensus = state['consensus']
        self.iteration = int(state['iteration'])
        self.best_loss = float(state['best_loss'])
        self.best_images = state['best_images']


def gradient_distance(name: str) -> Callable[
        [Sequence[torch.Tensor], Sequence[torch.Tensor]], torch.Tensor]:
    """The function of ``InversionSettings.grad_distance`` ``name``
    (:data:`GRADIENT_DISTANCES`): candidate gradients, target gradients ->
    scalar distance."""
    return _DISTANCE_FUNCTIONS[name]


def resolve_pooled_seeds(settings: InversionSettings,
                         model: nn.Module) -> bool:
    """Whether the seeds run as one pooled forward (:mod:`.pooled`).

    Args:
        settings (InversionSettings): ``pooled_seeds`` None: wherever the
            pooled path can run; True: it must (a ValueError names what
            prevents it); False: never.
        model (nn.Module): The attacked model.
    """
    if settings.pooled_seeds is False:
        return False
    reason = pooled_unsupported_reason(model)
    if reason is None and settings.grad_weight and \
            settings.grad_distance != 'cosine':
        reason = (f"grad_distance={settings.grad_distance!r}: the pooled "
                  "path computes the 'cosine' distance only")
    if reason is not None and settings.pooled_seeds:
        raise ValueError(f'attack.pooled_seeds=True cannot run: {reason}; '
                         'set attack.pooled_seeds=None or False')
    return reason is None


def check_settings(settings: InversionSettings) -> None:
    """Raise a ValueError naming the field of a bad setting."""
    from .registration import REGISTRATIONS
    if settings.grad_distance not in GRADIENT_DISTANCES:
        raise ValueError(f'attack.grad_distance must be one of '
                         f'{GRADIENT_DISTANCES}, got '
                         f'{settings.grad_distance!r}')
    if settings.init not in INITS:
        raise ValueError(f'attack.init must be one of {INITS}, got '
                         f'{settings.init!r}')
    if settings.registration not in REGISTRATIONS:
        raise ValueError(f'attack.registration must be one of '
                         f'{REGISTRATIONS}, got {settings.registration!r}')
    if not isinstance(settings.batched_seeds, (bool, type(None))):
        raise ValueError(
            'attack.batched_seeds must be None (batched unless several '
            'seed_workers share the seeds), True or False, got '
            f'{settings.batched_seeds!r}')
    if not isinstance(settings.pooled_seeds, (bool, type(None))):
        raise ValueError(
            'attack.pooled_seeds must be None (pooled wherever the victim '
            f'allows), True or False, got {settings.pooled_seeds!r}')
    workers = settings.seed_workers
    if workers is not None and not is_int_at_least(workers, 1):
        raise ValueError(
            f'attack.seed_workers must be None (one thread per intra-op '
            f'thread on a CPU) or an int >= 1, got {workers!r}')
    for name in ('iterations', 'num_seeds', 'group_every'):
        if getattr(settings, name) < 1:
            raise ValueError(f'attack.{name} must be >= 1, got '
                             f'{getattr(settings, name)}')
    for name in ('lr', 'grad_weight', 'bn_weight', 'tv_weight', 'l2_weight',
                 'group_weight', 'noise', 'init_noise'):
        if getattr(settings, name) < 0:
            raise ValueError(f'attack.{name} must be >= 0, got '
                             f'{getattr(settings, name)}')


def valid_range(mean: Sequence[float],
                std: Sequence[float]) -> List[torch.Tensor]:
    """Normalised bounds of [0, 1] images: ``(0 - mean) / std`` and
    ``(1 - mean) / std`` per channel, for ``mean``/``std`` in [0, 1]."""
    mean_t = torch.tensor(mean, dtype=torch.float32)
    std_t = torch.tensor(std, dtype=torch.float32)
    return [(0 - mean_t) / std_t, (1 - mean_t) / std_t]
