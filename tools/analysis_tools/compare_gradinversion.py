# Copyright (c) mmext contributors. All rights reserved.
"""GradInversion in mmext and in breaching, side by side on the same
victim, the same batches and the same true gradients.

GradInversion: Yin, Mallya, Vahdat, Alvarez, Kautz, Molchanov, "See through
Gradients: Image Batch Recovery via GradInversion", CVPR 2021, arXiv
2104.07586. The peer is breaching (Geiping et al.,
https://github.com/JonasGeiping/breaching, MIT licence), used as a library
with its attack config ``seethroughgradients`` (its reimplementation of the
paper); ``pip install -r requirements/peers.txt`` (or ``make peers``)
installs it.

Usage::

    python tools/analysis_tools/compare_gradinversion.py \\
        configs/gradinversion/gradinversion_resnet18-w32_b8-600it_shapes-64px.py \\
        --checkpoint work_dirs/cls_s0/epoch_5.pth \\
        --batches 3 --batch-size 8 --iterations 300 --restarts 2 \\
        --out work_dirs/compare_gradinversion

What is compared, per batch:

- the victim is the config's classifier with ``--checkpoint``'s weights, in
  eval mode (BatchNorm uses its running statistics);
- the batches are those ``mmext.GradInversionLoop`` draws
  (:func:`mmext.inversion.draw_target_batches` with the config's
  ``test_cfg`` sampling and seed), and each batch's target is built once
  (:func:`mmext.inversion.dataset_target`): the batch-averaged
  cross-entropy gradient of every parameter. That one gradient goes to all
  methods; breaching gets the victim as a plain ``nn.Module`` returning
  logits from normalised images (:class:`LogitsModel`), its parameters and
  BN buffers as the server payload and the gradient as the user's shared
  data (:func:`breaching_case`);
- each tool recovers the labels from the gradient itself: mmext with its
  rule (:func:`mmext.inversion.recover_labels`), breaching with its
  config's ``label_strategy`` (``'yin'``);
- methods: ``breaching`` (``seethroughgradients`` with the budget
  overridden), ``mmext`` (the config's attack, the budget overridden and
  the group schedule scaled with it: :func:`full_settings`) and
  ``mmext-matched`` (mmext with breaching's weights, as far as mmext has
  them: :func:`matched_settings`, whose mapping is written into the
  report);
- the budget: ``--iterations`` Adam steps for each of ``--restarts``
  candidates: breaching's ``restarts.num_trials``, run one after the
  other, the one closest to the gradient kept; ``mmext``'s seeds
  (``num_seeds``), optimised together and merged by the group consensus;
  ``mmext-matched`` runs as breaching's trials (one seed each, no group
  term, the closest to the gradient kept: :func:`run_mmext`). The first
  batch is attacked for ``--warmup-iterations`` untimed first, so that no
  method's timing includes one-off compilation;
- every reconstruction is scored by the same code
  (:func:`score_batch`): to [0, 1] RGB with the model's mean and std,
  paired with the true images by the Hungarian assignment of
  :func:`mmext.inversion.match_batch_order` (as the loop does), then
  :func:`mmext.inversion.psnr` and :func:`mmext.inversion.ssim`.

Written into ``--out``: ``compare_gradinversion.json`` (everything),
``compare_gradinversion.md`` (the tables) and ``compare_gradinversion.png``
(per batch: the true images, then one row per method, columns paired).
"""
import argparse
import copy
import datetime
import logging
import os.path as osp
import sys
import time
import warnings
from dataclasses import asdict, replace
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

METHODS = ('breaching', 'mmext', 'mmext-matched')
#: The breaching attack config closest to GradInversion.
BREACHING_ATTACK = 'seethroughgradients'
PEERS_HINT = ('pip install -r requirements/peers.txt (or make peers; '
              'breaching==0.1.2, needed only by the benchmarks)')
OUT_NAME = 'compare_gradinversion'


class PeerMissingError(RuntimeError):
    """The peer implementation is not installed."""


def import_breaching():
    """Import breaching, or say how to install it.

    Returns:
        module: The ``breaching`` package.

    Raises:
        PeerMissingError: breaching does not import; the message names
            ``pip install -r requirements/peers.txt``.
    """
    try:
        import breaching
    except ImportError as exc:
        raise PeerMissingError(
            f'the methods breaching and mmext-matched need the peer '
            f'implementation breaching, which does not import ({exc}); '
            f'install it with: {PEERS_HINT}') from exc
    return breaching


# ------------------------------------------------------------ the victim
class LogitsModel(nn.Module):
    """An mmext/mmpretrain classifier as a plain module: normalised images
    [N, C, H, W] in, logits [N, num_classes] out.

    Its parameters and buffers are the classifier's, in the classifier's
    order (the classifier is its only child), so gradients computed with
    mmext (:func:`mmext.inversion.batch_gradients`) line up with
    ``LogitsModel.parameters()``, which is what breaching differentiates.

    Args:
        classifier (nn.Module): The attacked classifier (``forward(x,
            mode='tensor')`` returns logits).
    """

    def __init__(self, classifier: nn.Module) -> None:
        super().__init__()
        self.classifier = classifier

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        from mmext.inversion import classifier_logits
        return classifier_logits(self.classifier, images)


class _Metadata(dict):
    """A dict that also reads its keys as attributes (breaching reads the
    server payload's metadata as ``metadata.shape``)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(name) from exc


def check_parameter_layout(model: nn.Module) -> None:
    """Check what breaching assumes of the victim's parameters.

    breaching pairs the shared gradients with ``model.parameters()`` one to
    one (all of them) and reads the labels from the last two entries (the
    classifier's weight and bias).

    Raises:
        ValueError: A parameter is frozen (mmext's gradients skip it), or
            the last linear layer's weight is not the second-to-last
            parameter.
    """
    from mmext.inversion import last_linear_weight_index
    params = list(model.parameters())
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    if frozen:
        raise ValueError(
            f'the victim has frozen parameters ({frozen[:3]}...); breaching '
            'matches the gradients of all parameters: unfreeze them (e.g. '
            'model.backbone.frozen_stages=-1)')
    if last_linear_weight_index(model, params) != len(params) - 2:
        raise ValueError(
            'breaching reads the labels from the last two parameters; the '
            "victim's last nn.Linear weight is not the second-to-last "
            'parameter')


def breaching_case(model: nn.Module, target, mean: torch.Tensor,
                   std: torch.Tensor) -> Tuple[nn.Module, list, list]:
    """The victim and one batch's gradient in breaching's format.

    Args:
        model (nn.Module): The attacked classifier, in eval mode.
        target (InversionTarget): The batch
            (:func:`mmext.inversion.dataset_target`).
        mean (Tensor): [C] the preprocessor's mean in [0, 1] units.
        std (Tensor): [C] its std in [0, 1] units.

    Returns:
        tuple: ``(LogitsModel, server_payload, shared_data)``: the payload
        carries the victim's parameters and buffers (so breaching puts its
        copy in eval mode with the same BN statistics) and the data
        metadata (shape, mean, std); the shared data carries a copy of
        ``target.gradients`` and no labels (breaching recovers them).
    """
    check_parameter_layout(model)
    wrapper = LogitsModel(model).eval()
    server_payload = [
        dict(
            parameters=[p.detach().clone() for p in wrapper.parameters()],
            buffers=[b.detach().clone() for b in wrapper.buffers()],
            metadata=_Metadata(
                modality='vision',
                shape=list(target.image_shape),
                mean=mean.tolist(),
                std=std.tolist(),
                classes=int(target.gradients[-1].shape[0])))
    ]
    shared_data = [
        dict(
            gradients=[g.detach().clone() for g in target.gradients],
            buffers=None,
            metadata=dict(
                num_data_points=target.batch_size,
                labels=None,
                local_hyperparams=None))
    ]
    return wrapper, server_payload, shared_data


# ------------------------------------------------------------ settings
def breaching_attack_config(breaching, iterations: int, restarts: int,
                            log_interval: int):
    """breaching's ``seethroughgradients`` config with the budget
    overridden (``optim.max_iterations``, ``restarts.num_trials``)."""
    overrides = [
        f'optim.max_iterations={iterations}',
        f'restarts.num_trials={restarts}',
        f'optim.callback={log_interval or 10**9}',
    ]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return breaching.get_attack_config(BREACHING_ATTACK,
                                           overrides=overrides)


def plain_config(cfg) -> dict:
    """A breaching (OmegaConf) config as plain dicts and lists."""
    if isinstance(cfg, dict):
        return copy.deepcopy(cfg)
    from omegaconf import OmegaConf
    return OmegaConf.to_container(cfg, resolve=True)


def full_settings(attack: dict, iterations: int, restarts: int):
    """The config's attack with ``iterations`` and ``restarts`` seeds.

    The group-consistency schedule (``group_start``, ``group_every``) is
    scaled by ``iterations / attack['iterations']``, as the project's
    shorter configs scale it.

    Args:
        attack (dict): ``test_cfg.attack`` of the GradInversion config.
        iterations (int): The budget.
        restarts (int): Seeds (``num_seeds``).

    Returns:
        InversionSettings: The settings.
    """
    from mmext.engine.runner.gradinversion_loop import build_settings
    settings = build_settings(dict(attack))
    scale = iterations / settings.iterations
    return replace(
        settings,
        iterations=iterations,
        num_seeds=restarts,
        group_start=int(round(settings.group_start * scale)),
        group_every=max(1, int(round(settings.group_every * scale))))


def matched_settings(breaching_cfg: dict, iterations: int,
                     restarts: int) -> Tuple[object, List[dict]]:
    """mmext settings with breaching's weights, and the mapping used.

    Args:
        breaching_cfg (dict): breaching's attack config as plain
            containers (``OmegaConf.to_container``).
        iterations (int): The budget.
        restarts (int): Candidates per batch; the matched run optimises
            each alone (``num_seeds=1``, no group term) and keeps the one
            whose gradients are closest, as breaching's restarts do (see
            :func:`run_mmext`).

    Returns:
        tuple: ``InversionSettings`` and the mapping, one dict per setting
        (``breaching``, ``value``, ``mmext``, ``mmext_value``, ``note``).

    Raises:
        ValueError: breaching's config uses an objective, optimiser or
            regulariser this mapping does not know.
    """
    from mmext.inversion import InversionSettings
    objective = breaching_cfg['objective']
    optim = breaching_cfg['optim']
    regs = breaching_cfg.get('regularization') or {}
    if objective['type'] != 'euclidean':
        raise ValueError(f'matched_settings: objective {objective["type"]!r}'
                         ' is not mapped (only euclidean)')
    if str(optim['optimizer']).lower() != 'adam':
        raise ValueError(f'matched_settings: optimizer {optim["optimizer"]!r}'
                         ' is not mapped (only adam)')
    unknown = sorted(set(regs) - {'total_variation', 'norm',
                                  'deep_inversion'})
    if unknown:
        raise ValueError(f'matched_settings: regularizers {unknown} are not '
                         'mapped')
    if breaching_cfg.get('init', 'randn') != 'randn':
        raise ValueError(f'matched_settings: init {breaching_cfg["init"]!r} '
                         'is not mapped (only randn)')
    tv = float(regs.get('total_variation', {}).get('scale', 0.0))
    norm = float(regs.get('norm', {}).get('scale', 0.0))
    bn = float(regs.get('deep_inversion', {}).get('scale', 0.0))
    first_bn = float(
        regs.get('deep_inversion', {}).get('first_bn_multiplier', 10.0))
    settings = InversionSettings(
        iterations=iterations,
        lr=float(optim['step_size']),
        warmup=int(optim.get('warmup') or 0),
        grad_distance='l2',
        grad_weight=float(objective['scale']),
        bn_weight=bn,
        first_bn_multiplier=first_bn,
        tv_weight=tv,
        l2_weight=norm,
        group_weight=0.0,
        noise=float(optim.get('langevin_noise') or 0.0),
        num_seeds=1,
        group_start=iterations,
        group_every=1,
        registration='none',
        init='random')
    mapping = [
        dict(breaching='objective euclidean, scale',
             value=objective['scale'], mmext='grad_distance, grad_weight',
             mmext_value=f"'l2', {settings.grad_weight:g}",
             note='breaching: 0.5 sum ||g - g*||^2 over all parameters '
             '(squared); mmext: sum over parameters of ||g_l - g*_l|| '
             '(not squared, per layer, the paper\'s Eq. 3)'),
        dict(breaching='regularization.deep_inversion.scale', value=bn,
             mmext='bn_weight, first_bn_multiplier',
             mmext_value=f'{bn:g}, {first_bn:g}',
             note='same term: ||mu - running_mean|| + ||var - running_var|| '
             'per BN layer, first layer x10'),
        dict(breaching='regularization.total_variation.scale', value=tv,
             mmext='tv_weight', mmext_value=f'{tv:g}',
             note='breaching: mean of |dx| + |dy| (anisotropic L1); mmext: '
             'sum of the Frobenius norms of 4 neighbour differences '
             '(DeepInversion)'),
        dict(breaching='regularization.norm.scale (p=2)', value=norm,
             mmext='l2_weight', mmext_value=f'{norm:g}',
             note='breaching: 0.5 mean x^2; mmext: mean over images of '
             '||x||_2'),
        dict(breaching='optim adam, step_size', value=optim['step_size'],
             mmext='lr', mmext_value=f'{settings.lr:g}',
             note='Adam, betas (0.9, 0.999) in both'),
        dict(breaching='optim.warmup, step_size_decay', value=(
            f"{optim.get('warmup')}, {optim.get('step_size_decay')}"),
             mmext='warmup (cosine decay)',
             mmext_value=f'{settings.warmup}',
             note='linear warm-up, then cosine decay in both'),
        dict(breaching='optim.langevin_noise', value=optim.get(
            'langevin_noise'), mmext='noise',
             mmext_value=f'{settings.noise:g}',
             note='breaching adds lr * noise * N(0,1) to the image '
             'gradient before Adam; mmext adds it to the images after the '
             'step'),
        dict(breaching='optim.boxed', value=optim.get('boxed'),
             mmext='(always)', mmext_value='clamp to [0, 1] pixels',
             note='same box'),
        dict(breaching='init', value=breaching_cfg.get('init', 'randn'),
             mmext='init', mmext_value="'random'",
             note='N(0, 1) in normalised units in both'),
        dict(breaching='restarts.num_trials, scoring',
             value=f"{restarts}, {breaching_cfg['restarts']['scoring']}",
             mmext='num_seeds=1 x restarts runs, group_weight=0',
             mmext_value=f'{restarts} runs, best by 0.5 sum ||g - g*||^2',
             note='breaching keeps each trial\'s lowest-objective iterate; '
             'mmext its last'),
        dict(breaching='label_strategy', value=breaching_cfg.get(
            'label_strategy'), mmext='labels', mmext_value="'recovered'",
             note='the same rule (Yin et al. Eq. 8: classes with the most '
             'negative row minimum of the last weight gradient)'),
    ]
    return settings, mapping


# ------------------------------------------------------------ attacks
def gradient_score(model: nn.Module, images: torch.Tensor,
                   labels: torch.Tensor,
                   target_gradients: Sequence[torch.Tensor]) -> float:
    """``0.5 * sum ||g(images) - g*||^2`` (breaching's restart scoring
    ``'euclidean'``, scale 1)."""
    from mmext.inversion import batch_gradients
    grads = batch_gradients(model, images, labels)
    return float(0.5 * sum((g - t).pow(2).sum()
                           for g, t in zip(grads, target_gradients)))


def run_mmext(model: nn.Module,
              target,
              settings,
              lower: torch.Tensor,
              upper: torch.Tensor,
              seed: int,
              trials: int = 1,
              log: Optional[Callable[[str], None]] = None,
              log_interval: int = 0) -> Tuple[torch.Tensor, dict]:
    """Run :class:`mmext.inversion.GradInversion` on one batch.

    Args:
        model (nn.Module): The victim, in eval mode.
        target (InversionTarget): The batch's gradients and labels.
        settings (InversionSettings): The attack.
        lower (Tensor): [C] normalised lower bound of [0, 1] pixels.
        upper (Tensor): [C] normalised upper bound.
        seed (int): Seed of the attack (trial ``t`` uses ``seed + 7919 *
            t``).
        trials (int): Independent runs; with more than one, the run whose
            result has the smallest :func:`gradient_score` is kept.
        log (Callable, optional): Progress lines go here.
        log_interval (int): Iterations between progress lines (0: none).

    Returns:
        tuple: The reconstruction [N, C, H, W] (normalised) and facts of
        the run (``trial_scores``, ``chosen_trial``, ``failed``).
    """
    from mmext.inversion import GradInversion, group_consensus
    results, scores, failed = [], [], []
    for trial in range(trials):
        attack = GradInversion(model, target.gradients, target.labels,
                               target.image_shape, lower, upper, settings,
                               seed=seed + 7919 * trial)
        try:
            while attack.iteration < settings.iterations:
                losses = attack.step()
                if log is not None and log_interval and (
                        attack.iteration % log_interval == 0
                        or attack.iteration == settings.iterations):
                    log(f'trial {trial + 1}/{trials} iter '
                        f'{attack.iteration}/{settings.iterations}: ' +
                        ', '.join(f'{k} {v:.4g}' for k, v in losses.items()))
            result = attack.result()
        except FloatingPointError as err:
            if log is not None:
                log(f'trial {trial + 1}: {err}; keeping its best images')
            failed.append(str(err))
            result = group_consensus(attack.best_images,
                                     settings.registration)
        results.append(result)
        scores.append(
            gradient_score(model, result, target.labels, target.gradients)
            if trials > 1 else None)
    chosen = min(range(trials), key=lambda t: scores[t]) if trials > 1 else 0
    return results[chosen], dict(trial_scores=scores, chosen_trial=chosen,
                                 failed=failed)


def run_breaching(breaching, wrapper: nn.Module, server_payload: list,
                  shared_data: list, cfg_attack,
                  seed: int) -> Tuple[torch.Tensor, torch.Tensor, dict]:
    """Run breaching's optimisation attack on one batch.

    Returns:
        tuple: The reconstruction [N, C, H, W] (normalised), breaching's
        recovered labels [N] and its stats (``opt_value``).
    """
    torch.manual_seed(seed)
    attacker = breaching.attacks.prepare_attack(
        wrapper, nn.CrossEntropyLoss(), cfg_attack,
        dict(dtype=torch.float, device=torch.device('cpu')))
    output, stats = attacker.reconstruct(server_payload, shared_data, {},
                                         dryrun=False)
    info = dict(opt_value=stats.get('opt_value'))
    return output['data'].detach().cpu(), output['labels'].detach().cpu(), \
        info


# ------------------------------------------------------------ scoring
def score_batch(recovered: torch.Tensor, original: torch.Tensor,
                mean: torch.Tensor, std: torch.Tensor) -> dict:
    """The one scoring of every method.

    Args:
        recovered (Tensor): [N, C, H, W] reconstruction, normalised.
        original (Tensor): [N, C, H, W] true batch, normalised.
        mean (Tensor): [C] the preprocessor's mean in [0, 1] units.
        std (Tensor): [C] its std in [0, 1] units.

    Returns:
        dict: ``pixels`` (the reconstruction in [0, 1], reordered to pair
        with ``original``), ``perm``, ``psnr`` and ``ssim`` (per image,
        lists) and their means ``psnr_mean``, ``ssim_mean``.
    """
    from mmext.inversion import match_batch_order, psnr, ssim
    from mmext.inversion.targets import unit_images
    truth = unit_images(original, mean, std)
    pixels, perm = match_batch_order(unit_images(recovered, mean, std),
                                     truth)
    psnrs = psnr(pixels, truth)
    ssims = ssim(pixels, truth)
    return dict(
        pixels=pixels,
        perm=perm.tolist(),
        psnr=psnrs.tolist(),
        ssim=ssims.tolist(),
        psnr_mean=float(psnrs.mean()),
        ssim_mean=float(ssims.mean()))


def label_accuracy(true_labels: Sequence[int],
                   recovered: Sequence[int]) -> float:
    """Percent of the batch's labels recovered, as multisets."""
    from mmext.evaluation.metrics.reconstruction import multiset_label_hits
    true_labels = [int(v) for v in true_labels]
    return 100.0 * multiset_label_hits(
        true_labels, [int(v) for v in recovered]) / len(true_labels)


def draw_batches(cfg, dataset, num_batches: int,
                 batch_size: int) -> List[List[int]]:
    """The dataset indices ``mmext.GradInversionLoop`` attacks with
    ``num_batches`` batches of ``batch_size`` (the config's ``test_cfg``
    sampling and seed)."""
    from mmext.inversion import dataset_labels, draw_target_batches
    loop = cfg.get('test_cfg') or {}
    return draw_target_batches(
        dataset_labels(dataset), batch_size, num_batches,
        loop.get('sampling', 'distinct_labels'), loop.get('seed', 0))


# ------------------------------------------------------------ report
def summarise(batches: List[dict], methods: Sequence[str]) -> Dict[str, dict]:
    """Means over batches per method."""
    summary = {}
    for name in methods:
        rows = [b['methods'][name] for b in batches]
        summary[name] = {
            key: sum(r[key] for r in rows) / len(rows)
            for key in ('label_accuracy', 'psnr', 'ssim', 'seconds',
                        'seconds_per_iteration', 'ms_per_candidate_step')
        }
    return summary


def _cell(value) -> str:
    """A Markdown table cell: ``|`` escaped."""
    return str(value).replace('|', '\\|')


def markdown_report(report: dict) -> str:
    """The Markdown tables of a finished comparison."""
    methods = report['methods']
    lines = [
        f"# GradInversion: mmext vs breaching ({report['date']})", '',
        f"Victim `{report['config']}` with `{report['checkpoint']}`; "
        f"{len(report['batches'])} batches of {report['batch_size']}; "
        f"{report['iterations']} iterations x {report['restarts']} "
        f"restarts per batch; {report['device']}.", '',
        '| batch | method | label acc (%) | PSNR (dB) | SSIM | s / batch '
        '| s / iteration |', '|---|---|---:|---:|---:|---:|---:|'
    ]
    def row(batch, name: str, r: dict) -> str:
        return (f"| {batch} | {name} | {r['label_accuracy']:.1f} | "
                f"{r['psnr']:.2f} | {r['ssim']:.3f} | {r['seconds']:.1f} | "
                f"{r['seconds_per_iteration']:.3f} |")

    for batch in report['batches']:
        lines += [row(batch['batch'], name, batch['methods'][name])
                  for name in methods]
    lines += [row('mean', name, report['summary'][name]) for name in methods]
    if report.get('mapping'):
        lines += [
            '', '## mmext-matched: breaching settings in mmext', '',
            '| breaching | value | mmext | value | note |',
            '|---|---|---|---|---|'
        ]
        for m in report['mapping']:
            lines.append('| ' + ' | '.join(
                _cell(m[key]) for key in ('breaching', 'value', 'mmext',
                                          'mmext_value', 'note')) + ' |')
    if report.get('settings'):
        lines += ['', '## Settings', '']
        for name, value in report['settings'].items():
            lines.append(f'- {name}: `{value}`')
    return '\n'.join(lines) + '\n'


def save_figure(path: str, rows: List[List[torch.Tensor]],
                names: Sequence[str]) -> None:
    """One panel per batch: the true images, then one row per method.

    Args:
        path (str): The PNG.
        rows (list[list[Tensor]]): Per batch, the rows [N, 3, H, W] in
            [0, 1] (true images first), columns paired.
        names (Sequence[str]): The row names (``'ground truth'`` first).
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    from mmext.utils.atomic import atomic_write
    from mmext.visualization.inversion_grid import rows_grid
    gap = 2
    pictures = [rows_grid(batch, gap) for batch in rows]
    height, width = pictures[0].shape[:2]
    fig, axes = plt.subplots(
        len(pictures), 1, squeeze=False,
        figsize=(width / 80 + 1.6, len(pictures) * (height / 80 + 0.4)))
    row_height = rows[0][0].shape[-2] + gap
    for b, (ax, picture) in enumerate(zip(axes[:, 0], pictures)):
        ax.imshow(picture, interpolation='nearest')
        ax.set_yticks([row_height * (i + 0.5) - gap / 2
                       for i in range(len(names))])
        ax.set_yticklabels(names)
        ax.set_xticks([])
        ax.set_title(f'batch {b}', fontsize=9)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format='png', dpi=100,
                                               bbox_inches='tight'),
                 suffix='.png')
    plt.close(fig)


# ------------------------------------------------------------ main
def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line (``argv`` defaults to ``sys.argv[1:]``)."""
    from mmext.utils.cli import add_cfg_options_argument
    parser = argparse.ArgumentParser(
        description='GradInversion in mmext and in breaching on the same '
        'victim, batches and gradients: PSNR, SSIM, label accuracy and '
        'time per batch',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('config', help='GradInversion config (its model, '
                        'data, test_cfg sampling/seed and attack)')
    parser.add_argument('--checkpoint', required=True,
                        help='weights of the attacked classifier')
    parser.add_argument('--batches', type=int, default=3,
                        help='attacked batches')
    parser.add_argument('--batch-size', type=int, default=8,
                        help='images per batch')
    parser.add_argument('--iterations', type=int, default=300,
                        help='optimisation steps per restart, every method')
    parser.add_argument('--restarts', type=int, default=2,
                        help="candidates per batch, every method "
                        "(breaching's restarts.num_trials, mmext's "
                        'num_seeds)')
    parser.add_argument('--methods', nargs='+', default=list(METHODS),
                        choices=METHODS, help='methods to run')
    parser.add_argument('--out', required=True,
                        help='folder for the JSON, Markdown and PNG')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch CPU threads (None: torch\'s default; '
                        'on a busy machine use 1)')
    parser.add_argument('--warmup-iterations', type=int, default=3,
                        help='untimed iterations of every method on the '
                        'first batch before the timed runs (first-call '
                        'compilation and allocation; 0: none)')
    parser.add_argument('--log-interval', type=int, default=50,
                        help='iterations between progress lines (0: none)')
    add_cfg_options_argument(parser)
    args = parser.parse_args(argv)
    for name in ('batches', 'batch_size', 'iterations', 'restarts'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1')
    return args


def _log(prefix: str) -> Callable[[str], None]:

    def log(message: str) -> None:
        print(f'{prefix} {message}', flush=True)

    return log


def _breaching_logging(enabled: bool) -> None:
    """Show breaching's progress lines (Python logging, INFO)."""
    logger = logging.getLogger('breaching')
    logger.setLevel(logging.INFO if enabled else logging.WARNING)
    if enabled and not logger.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter('    breaching: %(message)s'))
        logger.addHandler(handler)
        logger.propagate = False


def compare(args: argparse.Namespace, breaching=None) -> dict:
    """Run every method on every batch; return the report (not written).

    Args:
        args (argparse.Namespace): :func:`parse_args`' result.
        breaching (module, optional): The breaching package; needed by the
            methods ``breaching`` and ``mmext-matched``.

    Returns:
        dict: The report (what the JSON holds, without images) and, under
        ``'_rows'``, the figure's rows per batch.
    """
    from mmext.apis.inference import (build_test_dataset, init_model,
                                      load_config)
    from mmext.inversion import dataset_target, valid_range
    from mmext.inversion.targets import pixel_mean_std, unit_images
    from mmext.utils.benchmark import describe_device

    cfg = load_config(args.config, args.cfg_options)
    model = init_model(cfg, args.checkpoint)
    dataset = build_test_dataset(cfg)
    mean, std = pixel_mean_std(model)
    lower, upper = valid_range(mean.tolist(), std.tolist())
    loop = cfg.get('test_cfg') or {}
    seed = int(loop.get('seed', 0))
    methods = [m for m in METHODS if m in args.methods]

    settings: Dict[str, dict] = {}
    mapping: List[dict] = []
    run_settings = {}
    if 'mmext' in methods:
        run_settings['mmext'] = full_settings(loop.get('attack', {}),
                                              args.iterations, args.restarts)
        settings['mmext'] = asdict(run_settings['mmext'])
    cfg_attack = None
    if breaching is not None:
        cfg_attack = breaching_attack_config(breaching, args.iterations,
                                             args.restarts, args.log_interval)
        settings['breaching'] = plain_config(cfg_attack)
    if 'mmext-matched' in methods:
        run_settings['mmext-matched'], mapping = matched_settings(
            settings['breaching'], args.iterations, args.restarts)
        settings['mmext-matched'] = dict(
            asdict(run_settings['mmext-matched']), trials=args.restarts)
    _breaching_logging(args.log_interval > 0)

    def attack(name: str, target, batch_seed: int,
               iterations: int) -> Tuple[torch.Tensor, list, dict]:
        """One method on one target: (reconstruction, labels, info)."""
        log = _log(f'  [{name}]')
        if name == 'breaching':
            wrapper, payload, shared = breaching_case(model, target, mean,
                                                      std)
            cfg_run = cfg_attack if iterations == args.iterations else \
                breaching_attack_config(breaching, iterations, 1, 0)
            recovered, labels, info = run_breaching(
                breaching, wrapper, payload, shared, cfg_run, batch_seed)
            return recovered, labels.tolist(), info
        run = run_settings[name]
        trials = args.restarts if name == 'mmext-matched' else 1
        if iterations != args.iterations:
            run, trials = replace(run, iterations=iterations), 1
        recovered, info = run_mmext(model, target, run, lower, upper,
                                    batch_seed, trials, log,
                                    args.log_interval)
        return recovered, target.recovered_labels.tolist(), info

    batches = draw_batches(cfg, dataset, args.batches, args.batch_size)
    # One target per batch: the same images and gradient for every method.
    targets = [
        dataset_target(model, dataset, indices, 'recovered',
                       with_features=False) for indices in batches
    ]
    warmup = {}
    if args.warmup_iterations:
        # First calls compile and allocate (breaching's TorchScript
        # objective among them): run them once, untimed.
        for name in methods:
            start = time.perf_counter()
            attack(name, targets[0], seed, args.warmup_iterations)
            warmup[name] = time.perf_counter() - start
            print(f'  [{name}] warm-up ({args.warmup_iterations} '
                  f'iterations, untimed): {warmup[name]:.1f} s', flush=True)

    report_batches, figure_rows = [], []
    started = time.perf_counter()
    for b, (indices, target) in enumerate(zip(batches, targets)):
        true_labels = target.true_labels.tolist()
        print(f'batch {b + 1}/{len(batches)}: images {list(indices)}, '
              f'labels {sorted(true_labels)}', flush=True)
        entry = dict(batch=b, indices=list(indices),
                     true_labels=true_labels, methods={})
        pixels = {}
        # Rotate the order over batches, so that no method always runs
        # first (a drifting machine load then evens out).
        order = methods[b % len(methods):] + methods[:b % len(methods)]
        for name in order:
            print(f'  [{name}] batch {b}: {args.iterations} iterations x '
                  f'{args.restarts} restarts', flush=True)
            start = time.perf_counter()
            recovered, labels, info = attack(name, target, seed + b,
                                             args.iterations)
            seconds = time.perf_counter() - start
            scores = score_batch(recovered, target.images, mean, std)
            pixels[name] = scores.pop('pixels')
            result = dict(
                labels=sorted(int(v) for v in labels),
                label_accuracy=label_accuracy(true_labels, labels),
                psnr=scores['psnr_mean'],
                ssim=scores['ssim_mean'],
                psnr_per_image=scores['psnr'],
                ssim_per_image=scores['ssim'],
                order=scores['perm'],
                seconds=seconds,
                seconds_per_iteration=seconds / args.iterations,
                ms_per_candidate_step=1e3 * seconds /
                (args.iterations * args.restarts),
                info=info)
            entry['methods'][name] = result
            print(f'  [{name}] batch {b} done in {seconds:.1f} s: PSNR '
                  f'{result["psnr"]:.2f} dB, SSIM {result["ssim"]:.3f}, '
                  f'labels {result["label_accuracy"]:.0f} %', flush=True)
        entry['methods'] = {name: entry['methods'][name] for name in methods}
        report_batches.append(entry)
        figure_rows.append([unit_images(target.images, mean, std)] +
                           [pixels[name] for name in methods])
        elapsed = time.perf_counter() - started
        left = elapsed / (b + 1) * (len(batches) - b - 1)
        print(f'batch {b + 1}/{len(batches)} done; {elapsed / 60:.1f} min '
              f'so far, about {left / 60:.1f} min left', flush=True)

    threads = torch.get_num_threads()
    return dict(
        config=args.config,
        checkpoint=args.checkpoint,
        date=str(datetime.date.today()),
        device=describe_device(torch.device('cpu'), threads),
        batch_size=args.batch_size,
        iterations=args.iterations,
        restarts=args.restarts,
        seed=seed,
        methods=methods,
        breaching_attack=BREACHING_ATTACK if breaching else None,
        warmup_iterations=args.warmup_iterations,
        warmup_seconds=warmup,
        settings=settings,
        mapping=mapping,
        batches=report_batches,
        summary=summarise(report_batches, methods),
        _rows=figure_rows)


def main(argv=None) -> int:
    """Entry point; returns the exit status."""
    args = parse_args(argv)
    breaching = None
    if {'breaching', 'mmext-matched'} & set(args.methods):
        try:
            breaching = import_breaching()
        except PeerMissingError as exc:
            print(f'error: {exc}', file=sys.stderr)
            return 1
    if args.threads:
        torch.set_num_threads(args.threads)
    from mmext.utils.atomic import atomic_write, atomic_write_json
    try:
        report = compare(args, breaching)
    except (FileNotFoundError, ValueError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    rows = report.pop('_rows')
    base = osp.join(args.out, OUT_NAME)
    atomic_write_json(base + '.json', report)
    text = markdown_report(report)

    def write_md(tmp: str) -> None:
        with open(tmp, 'w', encoding='utf-8') as handle:
            handle.write(text)

    atomic_write(base + '.md', write_md, suffix='.md')
    save_figure(base + '.png', rows, ['ground truth'] + report['methods'])
    print('\n' + text)
    print(f'written: {base}.json, {base}.md, {base}.png')
    return 0


if __name__ == '__main__':
    sys.exit(main())
