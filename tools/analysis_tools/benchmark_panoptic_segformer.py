"""Benchmark mmext's Panoptic SegFormer R-50 against mmdet's Mask2Former R-50.

Inference latency and peak memory of the two panoptic models side by side:

* mmext: ``configs/_base_/models/panoptic-segformer_r50.py``
  (``mmext.PanopticSegFormer``);
* mmdet: ``mmdet::mask2former/mask2former_r50_8xb2-lsj-50e_coco-panoptic.py``
  from the installed mmdet's ``.mim`` configs (its ``test_cfg`` as shipped:
  panoptic and instance results).

Both are built in this one process from their configs with every
``init_cfg`` / ``pretrained`` removed (random weights, seeded, nothing
downloaded), in eval mode, eager, fp32, batch 1. Each call is the whole
inference a test step runs: ``model.data_preprocessor`` on a uint8 image
and a ``DetDataSample`` packed by mmdet's ``PackDetInputs`` with the
metainfo of the test pipelines (``img_id``, ``img_path``, ``ori_shape``,
``img_shape``, ``scale_factor``; the preprocessor adds
``batch_input_shape`` and ``pad_shape``), then
``model(**data, mode='predict')`` under ``torch.no_grad``, panoptic
post-processing to the original image size included. The image is
``--size`` (default 800 x 1333, the test ``Resize`` scale) and is its own
original (``ori_shape == img_shape``, ``scale_factor`` 1).

Latency: one warm-up call of each model, then ``--repeats`` interleaved
rounds (mmext, Mask2Former, mmext, ...), medians. Peak memory: one more
call of each, the memory allocated during it above what was allocated
before (weights and input not counted): ``torch.cuda.max_memory_allocated``
on CUDA, the profiler's record of PyTorch's CPU allocator on the CPU (see
:func:`mmext.utils.benchmark.cpu_peak_bytes`).

Caveats:

* On the CPU, mmcv's ``MultiScaleDeformableAttention`` has no compiled
  kernel and falls back to its pure-PyTorch ``grid_sample`` path
  (``multi_scale_deformable_attn_pytorch``), for both models: Panoptic
  SegFormer's encoder and location decoder and Mask2Former's pixel decoder
  use it. CPU numbers therefore do not reflect the CUDA kernel's cost.
* With random weights few segments pass the score thresholds, so the
  per-segment part of the post-processing (pasting masks by score) does
  less work than with trained weights; the fixed parts (decoding the top
  queries' masks, resizing them to the image) are the same.

Usage::

    python tools/analysis_tools/benchmark_panoptic_segformer.py \\
        --threads 2 --repeats 5 --out work_dirs/bench_panoptic.json
    python tools/analysis_tools/benchmark_panoptic_segformer.py \\
        --device cuda --repeats 20
"""
import argparse
import datetime
import json
import logging
import os.path as osp
import statistics
from typing import Any, Callable, Dict

import numpy as np
import torch

from mmext.apis import init_model
from mmext.apis.inference import load_config
from mmext.utils.atomic import atomic_write
from mmext.utils.benchmark import (add_benchmark_arguments, describe_device,
                                   interleaved_times, peak_bytes,
                                   strip_pretrained)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# key: (table name, config: relative to the repository or package::path)
MODELS = {
    'panoptic_segformer': ('Panoptic SegFormer R-50 (mmext)',
                           'configs/_base_/models/panoptic-segformer_r50.py'),
    'mask2former': (
        'Mask2Former R-50 (mmdet)',
        'mmdet::mask2former/mask2former_r50_8xb2-lsj-50e_coco-panoptic.py'),
}
# PackDetInputs' meta_keys in both models' COCO panoptic test pipelines
META_KEYS = ('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')


def build_model(config: str, seed: int, device: torch.device):
    """The config's model with random weights (seeded), in eval mode.

    Args:
        config (str): A config relative to the repository, or
            ``package::path`` of an installed package.
        seed (int): Seed of the weights.
        device (torch.device): Where the model goes.
    """
    cfg = load_config(config if '::' in config else osp.join(REPO, config))
    strip_pretrained(cfg.model)
    cfg.default_scope = 'mmdet'  # both configs' unprefixed types are mmdet's
    torch.manual_seed(seed)
    model = init_model(cfg)  # on the CPU, so the seed gives the same init
    disabled = logging.root.manager.disable
    logging.disable(logging.INFO)  # it logs every parameter's init
    try:
        model.init_weights()
    finally:
        logging.disable(disabled)
    return model.to(device)


def make_data(size, seed: int) -> Dict[str, list]:
    """A batch of one random uint8 image as the test pipeline leaves it:
    ``dict(inputs=[Tensor[3, H, W]], data_samples=[DetDataSample])``."""
    from mmdet.datasets.transforms import PackDetInputs
    height, width = size
    rng = np.random.default_rng(seed)
    packed = PackDetInputs(meta_keys=META_KEYS)(dict(
        img=rng.integers(0, 256, (height, width, 3), dtype=np.uint8),
        img_id=0,
        img_path=None,
        ori_shape=(height, width),
        img_shape=(height, width),
        scale_factor=(1.0, 1.0)))
    return dict(inputs=[packed['inputs']],
                data_samples=[packed['data_samples']])


def predict_fn(model, data: Dict[str, list]) -> Callable[[], Any]:
    """One full inference: preprocessing, forward, post-processing (on a
    fresh copy of the data samples, which both steps write to)."""

    def run():
        batch = dict(inputs=list(data['inputs']),
                     data_samples=[s.clone() for s in data['data_samples']])
        with torch.no_grad():
            return model(**model.data_preprocessor(batch, False),
                         mode='predict')

    return run


def benchmark(size, repeats: int, device: torch.device,
              seed: int) -> Dict[str, Dict[str, Any]]:
    """Parameters, latencies (s) and peak memory (bytes) per model."""
    data = make_data(size, seed)
    models = {key: build_model(config, seed, device)
              for key, (_, config) in MODELS.items()}
    fns = {key: predict_fn(model, data) for key, model in models.items()}
    times = interleaved_times(fns, repeats, device)
    results = {}
    for key, model in models.items():
        results[key] = dict(
            name=MODELS[key][0],
            config=MODELS[key][1],
            params=sum(p.numel() for p in model.parameters()),
            latency_s=times[key],
            latency_median_s=statistics.median(times[key]),
            peak_memory_bytes=peak_bytes(fns[key], device))
    return results


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_benchmark_arguments(parser, size=(800, 1333), repeats=5)
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the weights and the image')
    parser.add_argument('--out', help='write the raw numbers to this JSON')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    results = benchmark(args.size, args.repeats, device, args.seed)
    ours, ref = results['panoptic_segformer'], results['mask2former']
    ratio = dict(
        latency=ours['latency_median_s'] / ref['latency_median_s'],
        peak_memory=ours['peak_memory_bytes'] / ref['peak_memory_bytes'])
    header = (f'{datetime.date.today()}, torch {torch.__version__}, '
              f'{describe_device(device, args.threads)}, fp32, batch 1, '
              f'{args.size[0]}x{args.size[1]}, median of {args.repeats}')
    print(f'# {header}')
    print('| model | params (M) | latency (ms, median) | peak memory (MiB) |')
    print('|---|---|---|---|')
    for result in results.values():
        print(f'| {result["name"]} | {result["params"] / 1e6:.1f} | '
              f'{result["latency_median_s"] * 1e3:.1f} | '
              f'{result["peak_memory_bytes"] / 2**20:.1f} |')
    print(f'| mmext / Mask2Former | | {ratio["latency"]:.2f}x | '
          f'{ratio["peak_memory"]:.2f}x |')
    if args.out:
        record = dict(header=header, args=vars(args), models=results,
                      ratio_mmext_over_mask2former=ratio)

        def write(tmp: str) -> None:
            with open(tmp, 'w', encoding='utf-8') as file:
                json.dump(record, file, indent=1)

        atomic_write(args.out, write, suffix='.json')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
