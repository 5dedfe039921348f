"""Export a pruned checkpoint as a physically slim model and its config.

Reads the pruning record that ``mmext.HALPHook`` or ``mmext.EPIHook`` stored
in CKPT and rebuilds the slim model. The record's method tag says how: a
HALP checkpoint holds the dense weights with the pruned channels zeroed, so
the masked channels are removed for real (Torch-Pruning does the surgery)
and the slim model is checked to compute what the masked one computes; an
EPI checkpoint written after EPI pruned already holds the slim weights, so
the dense model is cut to the recorded architecture and they load into it.
Either way the slim weights are checked to load strictly into the written
``mmext.PrunedModel`` config and to compute the same outputs there. Both
latencies (dense architecture and slim) are measured, and ``--out`` gets:

- ``pruned.pth``: ``{'state_dict': ..., 'meta': ...}`` of the slim model;
- ``<config name>_pruned.py``: the config that builds it
  (``model=dict(type='mmext.PrunedModel', model=<dense model>,
  channels=...)``, without the pruning hook), usable with
  ``tools/test.py`` and as ``load_from`` for more fine-tuning;
- ``export.json``: channel widths, output difference and latencies.

Files are written atomically; an existing ``--out`` keeps its other files.

Example::

    python tools/pruning/export_pruned.py \
        configs/halp/halp-50_resnet18-w32_1xb64-6e_shapes-64px.py \
        work_dirs/halp-50_resnet18-w32_1xb64-6e_shapes-64px/epoch_6.pth \
        --out work_dirs/halp-50_resnet18-w32_1xb64-6e_shapes-64px/export
"""
import argparse
import copy
import json
import os
import os.path as osp
import sys

import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from mmengine.config import Config  # noqa: E402
from mmengine.runner.checkpoint import _load_checkpoint  # noqa: E402

from mmext.apis import init_model  # noqa: E402
from mmext.apis.inference import load_config  # noqa: E402
from mmext.engine.hooks.pruning_config import pruning_hook_cfg  # noqa: E402
from mmext.engine.hooks.pruning_hook import CHECKPOINT_KEY  # noqa: E402
from mmext.pruning.export import cut_to_widths, kept_widths, \
    rebuild_slim  # noqa: E402
from mmext.pruning.graph import build_channel_groups, \
    traceable  # noqa: E402
from mmext.pruning.latency import measure_forward_latency  # noqa: E402
from mmext.pruning.record import PruningRecord  # noqa: E402
from mmext.utils.atomic import atomic_torch_save, atomic_write  # noqa

#: Largest difference between masked and slim outputs accepted.
MAX_ABS_DIFF = 1e-4


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='the training config (with the hook)')
    parser.add_argument('checkpoint', help='a checkpoint the hook pruned')
    parser.add_argument('--out', required=True, help='output directory')
    parser.add_argument(
        '--batch', type=int, default=1,
        help='batch size of the latency measurement (default 1)')
    parser.add_argument('--repeats', type=int, default=20)
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument(
        '--no-latency', action='store_true', help='skip the measurement')
    return parser.parse_args(argv)


def _flat_outputs(output) -> list:
    if isinstance(output, torch.Tensor):
        return [output]
    if isinstance(output, dict):
        output = list(output.values())
    return [t for item in output for t in _flat_outputs(item)]


def max_output_difference(masked: torch.nn.Module, slim: torch.nn.Module,
                          scope, inputs: torch.Tensor) -> float:
    """Largest absolute difference of the two models' scope outputs."""
    with torch.no_grad():
        a = _flat_outputs(traceable(masked, scope)(inputs))
        b = _flat_outputs(traceable(slim, scope)(inputs))
    return max(float((x - y).abs().max()) for x, y in zip(a, b))


def slim_config(cfg: Config, widths: dict, hook: dict) -> Config:
    """``cfg`` with the slim model and without the pruning hook."""
    out = copy.deepcopy(cfg)
    out.model = dict(
        type='mmext.PrunedModel',
        model=cfg.model.to_dict() if hasattr(cfg.model, 'to_dict') else
        dict(cfg.model),
        channels=widths,
        input_shape=list(hook['input_shape']),
        scope=list(hook['scope']) if hook.get('scope') else None,
        ignored_layers=list(hook.get('ignored_layers', ())))
    out.custom_hooks = [
        h for h in cfg.get('custom_hooks', [])
        if str(h.get('type', '')).split('.')[-1] != hook['type'].split(
            '.')[-1]
    ]
    out.load_from = None
    out.resume = False
    return out


def _write_text(path: str, text: str) -> None:

    def write(tmp: str) -> None:
        with open(tmp, 'w') as f:
            f.write(text)

    atomic_write(path, write)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_config(args.config)
    hook = pruning_hook_cfg(cfg)
    checkpoint = _load_checkpoint(args.checkpoint, map_location='cpu')
    if CHECKPOINT_KEY not in checkpoint:
        raise SystemExit(
            f'{args.checkpoint} has no pruning record '
            f'(checkpoint[{CHECKPOINT_KEY!r}]); export checkpoints written '
            f'by a run with {hook["type"]}')
    model = init_model(cfg)
    shape = tuple(hook['input_shape'])
    scope = hook.get('scope')
    ignored = hook.get('ignored_layers', ())
    groups = build_channel_groups(model, torch.randn(1, *shape), scope,
                                  ignored)
    record = PruningRecord.from_dict(checkpoint[CHECKPOINT_KEY])
    record.check_groups({g.key: g.num_channels for g in groups})
    widths = kept_widths(record.current_keep())
    reference, slim = rebuild_slim(model, checkpoint['state_dict'], record,
                                   groups, hook)
    rebuilt = cut_to_widths(copy.deepcopy(model), widths, shape, scope,
                            ignored).eval()
    rebuilt.load_state_dict(slim.state_dict(), strict=True)

    inputs = torch.randn(2, *shape)
    diff = max(max_output_difference(reference, slim, scope, inputs),
               max_output_difference(slim, rebuilt, scope, inputs))
    source = 'checkpoint' if record.holds_slim_weights() else 'masked'
    print(f'max |{source} - slim| over the scope outputs: {diff:.3g}')
    if diff > MAX_ABS_DIFF:
        raise SystemExit(
            f'the slim model differs from the checkpoint\'s by {diff:.3g} '
            f'(> {MAX_ABS_DIFF}); nothing was written')
    report = dict(
        config=args.config,
        checkpoint=args.checkpoint,
        method=record.method,
        steps=len(record.steps),
        channels=widths,
        max_abs_diff=diff,
        params_dense=sum(p.numel() for p in model.parameters()),
        params_slim=sum(p.numel() for p in slim.parameters()))
    if not args.no_latency:
        batch = torch.randn(args.batch, *shape)
        dense_ms, slim_ms = measure_forward_latency(
            [traceable(model, scope), traceable(slim, scope)],
            batch,
            repeats=args.repeats)
        report.update(
            latency_batch=args.batch,
            latency_dense_ms=dense_ms,
            latency_slim_ms=slim_ms,
            latency_ratio=slim_ms / dense_ms,
            threads=torch.get_num_threads())
        print(f'latency at batch {args.batch}: dense {dense_ms:.3f} ms, '
              f'slim {slim_ms:.3f} ms, ratio {slim_ms / dense_ms:.3f}')

    os.makedirs(args.out, exist_ok=True)
    atomic_torch_save(
        dict(
            state_dict=slim.state_dict(),
            meta=dict(source=args.checkpoint, channels=widths)),
        osp.join(args.out, 'pruned.pth'))
    name = osp.splitext(osp.basename(args.config))[0]
    cfg_path = osp.join(args.out, f'{name}_pruned.py')
    _write_text(cfg_path, slim_config(cfg, widths, hook).pretty_text)
    _write_text(
        osp.join(args.out, 'export.json'), json.dumps(report, indent=2))
    print(f'wrote {args.out}/pruned.pth, {cfg_path}, export.json')
    return 0


if __name__ == '__main__':
    sys.exit(main())
