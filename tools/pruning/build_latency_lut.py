"""Measure the latency lookup table HALP prunes against.

Times every distinct conv/linear layer of the config's pruned scope over the
channel widths pruning can reach (multiples of the hook's
``channel_group_size``, thinned to ``--max-points`` per axis; the table
interpolates between them), on the current device, with warm-up and the
median of ``--repeats`` runs. Keys follow HALP's
``bs_cin_cout_fmap_k_stride_groups`` (Shen et al., arXiv 2110.10811). The
JSON is rewritten atomically every few seconds: an interrupted run resumes
where it stopped when started again with the same ``--out``.

Example::

    python tools/pruning/build_latency_lut.py \
        configs/halp/halp-50_resnet18-w32_1xb64-6e_shapes-64px.py \
        --batch 64 --out work_dirs/luts/r18w32_cpu_b64.json
"""
import argparse
import os.path as osp
import sys

import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from mmext.apis import init_model  # noqa: E402
from mmext.apis.inference import load_config  # noqa: E402
from mmext.engine.hooks.pruning_config import pruning_hook_cfg  # noqa: E402
from mmext.pruning.graph import traceable  # noqa: E402
from mmext.pruning.latency import LatencyModel, build_lut, latency_jobs, \
    measure_network_latency  # noqa: E402
from mmext.pruning.signatures import scope_signatures  # noqa: E402
from mmext.utils.cli import add_cfg_options_argument  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config with an mmext pruning hook')
    parser.add_argument(
        '--batch', type=int, required=True,
        help='batch size of the deployment the latency is for')
    parser.add_argument('--out', required=True, help='LUT JSON to write')
    parser.add_argument('--device', default='cpu', help='cpu, cuda, ...')
    parser.add_argument(
        '--max-points', type=int, default=8,
        help='most widths measured per channel axis (default 8)')
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument(
        '--threads', type=int, default=None,
        help='torch CPU threads (default: torch\'s own choice)')
    parser.add_argument(
        '--plain', action='store_true',
        help='HALP\'s model: time bare convolutions only. By default each '
        'conv is timed with its BatchNorm and ReLU and pooling layers are '
        'timed too, which eager CPU inference needs (docs/benchmarks.md)')
    parser.add_argument(
        '--no-calibrate', action='store_true',
        help='skip timing the whole dense scope at the end')
    parser.add_argument(
        '--no-resume', action='store_true',
        help='measure everything again instead of resuming --out')
    add_cfg_options_argument(parser)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_config(args.config, args.cfg_options)
    hook = pruning_hook_cfg(cfg)
    model = init_model(cfg, device=args.device)
    example = torch.randn(1, *hook['input_shape'], device=args.device)
    extended = not args.plain
    signatures = scope_signatures(
        model, hook.get('scope'), example, args.batch, pools=extended)
    jobs = latency_jobs(
        signatures.values(),
        step=hook.get('channel_group_size', 8),
        max_points=args.max_points,
        epilogue=extended)
    points = sum(len(i) * len(o) for _, i, o in jobs)
    print(f'{len(signatures)} layers, {len(jobs)} distinct signatures, '
          f'{points} grid points at batch {args.batch} on {args.device}')
    lut = build_lut(
        jobs,
        args.out,
        device=args.device,
        batch=args.batch,
        warmup=args.warmup,
        repeats=args.repeats,
        resume=not args.no_resume,
        progress=True)
    lut.meta['extended'] = extended
    if not args.no_calibrate:
        calibrate(lut, model, hook, signatures, args)
    lut.save(args.out)
    print(f'wrote {len(lut.entries)} entries to {args.out}')
    return 0


def calibrate(lut, model, hook: dict, signatures, args) -> None:
    """Record the dense scope's measured and predicted latency in the
    LUT's meta: their ratio converts predictions to absolute times (the
    pruning hook needs ratios only)."""
    inputs = torch.randn(args.batch, *hook['input_shape'],
                         device=args.device)
    measured = measure_network_latency(
        traceable(model, hook.get('scope')), inputs, device=args.device,
        repeats=args.repeats)
    predicted = LatencyModel(lut, signatures).predict()
    lut.meta.update(
        dense_measured_ms=measured, dense_predicted_ms=predicted)
    print(f'dense scope at batch {args.batch}: measured {measured:.3f} ms, '
          f'predicted {predicted:.3f} ms ({predicted / measured:.3f})')


if __name__ == '__main__':
    sys.exit(main())
