"""Where DICOD's KD losses push a student: their gradients against the
detector's own box and class losses.

DICOD (Guo et al., "Distilling Image Classifiers in Object Detectors",
NeurIPS 2021, arXiv 2106.05209) adds KD_cls (Sec. 3.1) and KD_loc (Sec.
3.2) to a detector's losses. This tool loads a student's weights (for
example a trained baseline) into the config's ``mmext.DICODDistiller`` and,
on ``--batches`` training batches, takes the gradient of every loss with
respect to each parameter named by ``--params``. Per parameter and KD loss
it prints the medians over the batches of

* the KD gradient's norm over that of the head's box loss
  (``loss_bbox``) and of its class loss (``loss_cls``);
* the cosine between the KD gradient and each of them (1: the same
  direction, 0: unrelated, -1: opposed).

A loss that does not reach a parameter has a zero gradient there: a KD
loss that does not reach it reads ratio 0 and cosine 0, a reference loss
that does not, ratio ``nan`` and cosine 0.

Usage::

    python tools/analysis_tools/dicod_gradients.py \\
        configs/dicod/dicod_faster-rcnn_r18-w32_fpn_1xb4-10e_shapes-128px.py \\
        --student-checkpoint work_dirs/faster-rcnn_r18-w32_fpn_1xb4-10e_shapes-128px/epoch_10.pth \\
        --params roi_head.bbox_head.fc_reg.weight \\
                 roi_head.bbox_head.shared_fcs.1.weight backbone.conv1.weight
"""
import argparse
import copy
import os.path as osp
import statistics
import tempfile
from typing import Dict, List

import torch
import torch.nn.functional as F
from mmengine.config import Config, ConfigDict
from mmengine.runner import load_checkpoint

from mmext.registry import MODELS
from mmext.utils.cli import add_cfg_options_argument, load_script

#: The student's own losses the KD gradients are compared with.
REFERENCES = ('loss_bbox', 'loss_cls')
#: The distiller's losses.
KD_LOSSES = ('loss_kd_cls', 'loss_kd_loc')


def _benchmark_dicod():
    """``tools/analysis_tools/benchmark_dicod.py`` (its batch loader and
    stand-in teacher) as a module."""
    return load_script(
        osp.join(osp.dirname(osp.abspath(__file__)), 'benchmark_dicod.py'),
        'mmext_benchmark_dicod')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='a config with mmext.DICODDistiller')
    parser.add_argument(
        '--student-checkpoint',
        help="the student's weights (a checkpoint of the detector alone); "
        'default: its initial weights')
    parser.add_argument(
        '--params',
        nargs='+',
        required=True,
        help="student parameter names, as in the detector's state dict")
    parser.add_argument('--batches', type=int, default=16)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument(
        '--random-teacher',
        action='store_true',
        help='a randomly initialised teacher of the configured '
        'architecture instead of teacher_ckpt')
    add_cfg_options_argument(parser)
    args = parser.parse_args(argv)
    if args.batches < 1:
        parser.error('--batches must be >= 1')
    return args


def build_distiller(cfg: Config, student_checkpoint, random_teacher: bool):
    """The config's distiller with the student's weights loaded."""
    model_cfg = copy.deepcopy(cfg.model)
    with tempfile.TemporaryDirectory() as work_dir:
        if random_teacher:
            _benchmark_dicod().stand_in_teacher(model_cfg, work_dir)
        torch.manual_seed(0)
        distiller = MODELS.build(ConfigDict(model_cfg))
    distiller.student.init_weights()
    if student_checkpoint:
        load_checkpoint(distiller.student, student_checkpoint,
                        map_location='cpu', strict=True)
    return distiller.train()


def _total(loss) -> torch.Tensor:
    """A loss entry: a tensor, or mmdet's list of per-level tensors."""
    return sum(loss) if isinstance(loss, (list, tuple)) else loss


def batch_gradients(distiller, data: dict,
                    params: Dict[str, torch.nn.Parameter]) -> Dict:
    """``{param: {loss: flat gradient}}`` of one batch (zeros where a loss
    does not reach a parameter)."""
    data = distiller.data_preprocessor(copy.deepcopy(data), True)
    losses = distiller.loss(data['inputs'], data['data_samples'])
    names = [n for n in REFERENCES + KD_LOSSES if n in losses]
    gradients = {name: {} for name in params}
    for loss_name in names:
        grads = torch.autograd.grad(
            _total(losses[loss_name]),
            list(params.values()),
            retain_graph=True,
            allow_unused=True)
        for (name, param), grad in zip(params.items(), grads):
            gradients[name][loss_name] = (
                torch.zeros_like(param) if grad is None else grad).flatten()
    return gradients


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    if a.norm() == 0 or b.norm() == 0:
        return 0.0
    return float(F.cosine_similarity(a, b, dim=0))


def _ratio(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(a.norm() / b.norm()) if b.norm() > 0 else float('nan')


def table(per_batch: List[Dict]) -> str:
    """Medians over the batches, one row per parameter and KD loss."""
    head = ' | '.join(f'norm / {r} | cosine with {r}' for r in REFERENCES)
    lines = [f'| parameter | KD loss | {head} |',
             '|---|---|' + '---:|' * (2 * len(REFERENCES))]
    for name in per_batch[0]:
        for kd in KD_LOSSES:
            if kd not in per_batch[0][name]:
                continue
            cells = []
            for reference in REFERENCES:
                pairs = [(g[name][kd], g[name][reference])
                         for g in per_batch if reference in g[name]]
                if not pairs:
                    cells += ['-', '-']
                    continue
                ratio = statistics.median(_ratio(*p) for p in pairs)
                cosine = statistics.median(_cosine(*p) for p in pairs)
                cells += [f'{ratio:.3f}', f'{cosine:.3f}']
            lines.append(f'| {name} | {kd} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    benchmark_dicod = _benchmark_dicod()
    cfg = benchmark_dicod.distiller_config(args)
    distiller = build_distiller(cfg, args.student_checkpoint,
                                args.random_teacher)
    named = dict(distiller.student.named_parameters())
    unknown = [p for p in args.params if p not in named]
    if unknown:
        raise SystemExit(f'--params: {unknown} are not parameters of the '
                         f'student; for example {sorted(named)[:3]}')
    params = {p: named[p] for p in args.params}
    batches = benchmark_dicod.training_batches(cfg, args.batches)
    per_batch = [batch_gradients(distiller, data, params) for data in batches]
    print(f'{args.config}, student weights: '
          f'{args.student_checkpoint or "initial"}, medians over '
          f'{len(per_batch)} training batches')
    print(table(per_batch))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
