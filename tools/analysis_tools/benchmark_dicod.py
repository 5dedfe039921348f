"""Seconds per training iteration of a detector with and without DICOD.

DICOD (Guo et al., NeurIPS 2021, arXiv 2106.05209) adds a frozen
classifier's forward on the ground-truth crops (KD_cls) and on the crops
under predicted and ground-truth boxes (KD_loc) to every iteration. This
script builds, in one process, the student alone and the distiller with
KD_cls only, KD_loc only and both (the same student weights, the config's
optimizer), and times ``train_step`` on the same real batches of the
config's training set, interleaved round by round
(:func:`mmext.utils.benchmark.interleaved_times`). Data loading is done
beforehand and not timed. It prints the median seconds per iteration and
each one's ratio to the student alone.

Usage::

    python tools/analysis_tools/benchmark_dicod.py \\
        configs/dicod/dicod_faster-rcnn_r18-w32_fpn_1xb4-10e_shapes-128px.py \\
        --repeats 30

``--random-teacher`` stands in a randomly initialised teacher of the
configured architecture when its checkpoint is not at hand (the cost does
not depend on the teacher's weights); ``--cfg-options`` changes the config
(e.g. ``model.kd_loc.crop_size=32``).
"""
import argparse
import copy
import datetime
import itertools
import statistics
import tempfile
from typing import Dict, List

import torch
from mmengine.config import Config, ConfigDict
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from mmext.models.det.dicod.teacher import teacher_model_cfg
from mmext.registry import MODELS
from mmext.utils.benchmark import describe_device, interleaved_times
from mmext.utils.cli import add_cfg_options_argument

VARIANTS = {
    'student alone': None,
    '+KD_cls': dict(kd_loc=None),
    '+KD_loc': dict(kd_cls=None),
    '+both': dict(),
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='a config with mmext.DICODDistiller')
    parser.add_argument('--batches', type=int, default=8,
                        help='distinct training batches cycled through')
    parser.add_argument('--repeats', type=int, default=30,
                        help='interleaved rounds (timed steps per variant)')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--random-teacher', action='store_true')
    add_cfg_options_argument(parser)
    return parser.parse_args(argv)


def training_batches(cfg: Config, count: int) -> List[dict]:
    """``count`` batches of the config's training dataloader."""
    loader_cfg = copy.deepcopy(cfg.train_dataloader)
    loader_cfg.num_workers = 0
    loader_cfg.persistent_workers = False
    loader = Runner.build_dataloader(loader_cfg, seed=0)
    batches = []
    for data in loader:
        batches.append(data)
        if len(batches) == count:
            break
    return batches


def stand_in_teacher(model_cfg: ConfigDict, work_dir: str) -> None:
    """Point ``model_cfg.teacher_ckpt`` at a randomly initialised teacher
    of the configured architecture, saved in ``work_dir``."""
    teacher = MODELS.build(teacher_model_cfg(model_cfg.teacher))
    model_cfg.teacher_ckpt = f'{work_dir}/teacher.pth'
    torch.save(dict(state_dict=teacher.state_dict()), model_cfg.teacher_ckpt)


def build_models(cfg: Config, random_teacher: bool,
                 work_dir: str) -> Dict[str, torch.nn.Module]:
    """The student alone and each distiller variant, same student
    weights."""
    model_cfg = copy.deepcopy(cfg.model)
    if random_teacher:
        stand_in_teacher(model_cfg, work_dir)
    torch.manual_seed(0)
    student = MODELS.build(ConfigDict(model_cfg.student, _scope_='mmdet'))
    student.init_weights()
    models = {}
    for name, overrides in VARIANTS.items():
        if overrides is None:
            models[name] = student
            continue
        distiller = MODELS.build(ConfigDict(model_cfg, **overrides))
        distiller.load_state_dict(student.state_dict())
        models[name] = distiller
    return models


def distiller_config(args: argparse.Namespace) -> Config:
    """``args.config`` with ``--cfg-options`` applied, after checking that
    it holds an ``mmext.DICODDistiller``; sets the thread count and the
    config's default scope."""
    torch.set_num_threads(args.threads)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if cfg.model.get('type') != 'mmext.DICODDistiller':
        raise SystemExit(f'config: {args.config} has no mmext.DICODDistiller'
                         ' model')
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    return cfg


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = distiller_config(args)
    batches = training_batches(cfg, args.batches)
    with tempfile.TemporaryDirectory() as work_dir:
        models = build_models(cfg, args.random_teacher, work_dir)
    steps = {}
    for name, model in models.items():
        model.train()
        optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        cursor = itertools.count()

        def step(model=model, optim_wrapper=optim_wrapper, cursor=cursor):
            data = batches[next(cursor) % len(batches)]
            model.train_step(copy.deepcopy(data), optim_wrapper)

        steps[name] = step
    times = interleaved_times(steps, args.repeats, warmup=2)
    base = statistics.median(times['student alone'])
    device = describe_device(torch.device('cpu'), args.threads)
    print(f'{args.config}\n{device}, batch {cfg.train_dataloader.batch_size}, '
          f'{args.repeats} interleaved rounds, '
          f'{datetime.date.today().isoformat()}')
    print(f'| variant | s/iter (median) | ratio to the student alone |\n'
          f'|---|---:|---:|')
    for name, seconds in times.items():
        median = statistics.median(seconds)
        print(f'| {name} | {median:.4f} | {median / base:.3f} |')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
