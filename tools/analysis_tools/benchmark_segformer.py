"""Benchmark mmext's MiT / SegFormer against mmseg 1.x side by side.

Both encoders run in this one process with the same weights (mmseg's
randomly initialised ``MixVisionTransformer`` converted to mmext's layout),
eager mode, interleaved repeats, medians reported. Rows:

* ``forward``: encoder inference, batch 1 (``torch.no_grad``).
* ``train step``: encoder + a shared 1x1 classifier, forward + backward,
  batch 2.
* ``segmentor forward``: the whole model each library builds for the
  variant (mmseg: its config's ``SegformerHead`` with C=256; mmext: the
  paper's head, C=256 for B0/B1 and 768 for B2-B5), batch 1.
* ``activation memory``: bytes the autograd graph keeps for the backward of
  one training step (distinct storages saved by ``saved_tensors_hooks``);
  on CUDA the peak allocated memory of the step.

Timed rows also give the range of the per-round ratios (each round times
both libraries back to back), which shows how much the machine's load moved
the result.

``--per-stage`` adds where a train step's time goes: forward + backward of
the first block of each stage, whole and attention alone (the rest is
Mix-FFN and the residual adds), at the token shapes of a batch of 2.

Usage::

    python tools/analysis_tools/benchmark_segformer.py --archs b0 b2 \
        --size 512 512 --threads 2 --repeats 7 [--per-stage]
"""
import argparse
import math
import statistics
from typing import Any, Callable, Dict, List

import torch
from torch import nn

from mmext.models.seg import MIT_ARCHS, MiT
from mmext.models.seg.segformer_convert import convert_segformer
from mmext.utils.benchmark import (add_benchmark_arguments, cuda_peak_bytes,
                                   describe_device, interleaved_times)


def build_pair(arch: str, device: torch.device):
    """mmseg's encoder and mmext's, holding the same weights."""
    from mmseg.models.backbones import MixVisionTransformer
    spec = MIT_ARCHS[arch]
    torch.manual_seed(0)
    ref = MixVisionTransformer(
        embed_dims=spec.embed_dims[0], num_layers=list(spec.depths),
        num_heads=list(spec.num_heads), sr_ratios=list(spec.sr_ratios),
        drop_path_rate=0.0)
    ref.init_weights()
    ours = MiT(arch, drop_path_rate=0.0)
    ours.load_state_dict(convert_segformer(ref.state_dict(), 'mmseg'),
                         strict=True)
    return ref.to(device), ours.to(device)


def build_segmentor_heads(arch: str, device: torch.device):
    """(mmseg SegformerHead C=256, mmext SegFormerHead with the paper's C)."""
    from mmengine.registry import DefaultScope
    from mmseg.models.decode_heads import SegformerHead

    from mmext.models.seg import SegFormerHead
    spec = MIT_ARCHS[arch]
    common = dict(in_channels=list(spec.embed_dims), in_index=[0, 1, 2, 3],
                  num_classes=150, norm_cfg=dict(type='BN'))
    # mmseg's heads build their losses in the current default scope
    with DefaultScope.overwrite_default_scope('mmseg'):
        ref = SegformerHead(channels=256, **common)
        ours = SegFormerHead(channels=spec.decoder_channels, **common)
    return ref.to(device).eval(), ours.to(device).eval()


def saved_activation_bytes(step: Callable[[], torch.Tensor]) -> int:
    """Bytes of distinct storages autograd saves for the backward of
    ``step`` (the loss it returns is then back-propagated)."""
    storages = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = step()
    loss.backward()
    return sum(storages.values())


def train_memory_bytes(step: Callable[[], torch.Tensor],
                       device: torch.device) -> int:
    """CUDA: the peak allocated memory of a training step (forward and
    backward); CPU: :func:`saved_activation_bytes`."""
    if device.type == 'cuda':
        return cuda_peak_bytes(lambda: step().backward(), device)
    return saved_activation_bytes(step)


def paired(fns: Dict[str, Callable[[], Any]], repeats: int,
           device: torch.device) -> tuple:
    """Interleaved timing of ``{'mmseg': f, 'mmext': g}``: (mmseg median,
    mmext median, (lowest, highest) per-round mmseg / mmext ratio)."""
    times = interleaved_times(fns, repeats, device)
    ratios = [a / b for a, b in zip(times['mmseg'], times['mmext'])]
    return (statistics.median(times['mmseg']),
            statistics.median(times['mmext']), (min(ratios), max(ratios)))


def backward_of(fn: Callable[[], torch.Tensor],
                inputs: torch.Tensor) -> Callable[[], None]:
    """A call of ``fn`` and the backward of its output's sum."""
    def run():
        inputs.grad = None
        fn().sum().backward()
    return run


def stage_breakdown(arch: str, size, repeats: int,
                    device: torch.device) -> List[tuple]:
    """Per stage: (stage, blocks, tokens, attention mmseg / mmext, rest of
    the block mmseg / mmext, block ratio range), seconds, forward + backward
    of the stage's first block on a batch of 2 in training mode."""
    ref, ours = build_pair(arch, device)
    ref.train()
    ours.train()
    spec = MIT_ARCHS[arch]
    height, width = size
    rows = []
    for i, dim in enumerate(spec.embed_dims):
        stride = 4 * 2**i
        hw = (math.ceil(height / stride), math.ceil(width / stride))
        tokens = torch.randn(2, hw[0] * hw[1], dim, device=device,
                             requires_grad=True)
        ref_block = ref.layers[i][1][0]
        our_block = ours.stages[i].blocks[0]
        attention = paired({
            'mmseg': backward_of(lambda: ref_block.attn(
                ref_block.norm1(tokens), hw, identity=0.0), tokens),
            'mmext': backward_of(lambda: our_block.attn(
                our_block.norm1(tokens), hw), tokens),
        }, repeats, device)
        block = paired({
            'mmseg': backward_of(lambda: ref_block(tokens, hw), tokens),
            'mmext': backward_of(lambda: our_block(tokens, hw), tokens),
        }, repeats, device)
        rows.append((i + 1, spec.depths[i], hw[0] * hw[1], attention[0],
                     attention[1], block[0] - attention[0],
                     block[1] - attention[1], block[2]))
    return rows


def bench_arch(arch: str, size, repeats: int, device: torch.device,
               dtype: torch.dtype) -> List[tuple]:
    ref, ours = build_pair(arch, device)
    autocast = torch.autocast(device.type, dtype=dtype,
                              enabled=dtype != torch.float32)
    image1 = torch.randn(1, 3, *size, device=device)
    image2 = torch.randn(2, 3, *size, device=device)
    classifier = nn.Conv2d(MIT_ARCHS[arch].embed_dims[-1], 19, 1).to(device)
    rows = []

    def forward(model):
        def run():
            with torch.no_grad(), autocast:
                model(image1)
        return run

    def train_loss(model):
        def loss():
            with autocast:
                return classifier(model(image2)[-1]).float().mean()
        return loss

    def train_step(model):
        def run():
            model.zero_grad(set_to_none=True)
            train_loss(model)().backward()
        return run

    ref.eval()
    ours.eval()
    rows.append((arch, 'forward, batch 1',
                 *paired({'mmseg': forward(ref), 'mmext': forward(ours)},
                         repeats, device)))
    ref.train()
    ours.train()
    rows.append((arch, 'train step, batch 2',
                 *paired({'mmseg': train_step(ref),
                          'mmext': train_step(ours)}, repeats, device)))
    mem = {name: train_memory_bytes(train_loss(m), device) / 2**20
           for name, m in (('mmseg', ref), ('mmext', ours))}
    rows.append((arch, 'train memory (MiB)', mem['mmseg'], mem['mmext'],
                 None))

    ref_head, our_head = build_segmentor_heads(arch, device)
    ref.eval()
    ours.eval()

    def segment(backbone, head):
        def run():
            with torch.no_grad(), autocast:
                head(backbone(image1))
        return run

    rows.append((arch, 'segmentor forward, batch 1',
                 *paired({'mmseg': segment(ref, ref_head),
                          'mmext': segment(ours, our_head)}, repeats,
                         device)))
    return rows


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--archs', nargs='+', default=['b0', 'b2'],
                        choices=sorted(MIT_ARCHS))
    add_benchmark_arguments(parser, size=(512, 512), repeats=7)
    parser.add_argument('--dtype', default='fp32',
                        choices=['fp32', 'fp16', 'bf16'])
    parser.add_argument('--per-stage', action='store_true',
                        help='also time one block of each stage, whole and '
                        'attention alone (fp32)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    dtype = {'fp32': torch.float32, 'fp16': torch.float16,
             'bf16': torch.bfloat16}[args.dtype]
    where = describe_device(device, args.threads)
    print(f'# torch {torch.__version__}, {where}, {args.dtype}, '
          f'{args.size[0]}x{args.size[1]}, median of {args.repeats}')
    print('| arch | measurement | mmseg | mmext | mmext speed-up / '
          'memory ratio | per-round speed-ups |')
    print('|---|---|---|---|---|---|')
    for arch in args.archs:
        for arch_name, what, ref, ours, spread in bench_arch(
                arch, args.size, args.repeats, device, dtype):
            if spread is None:
                print(f'| {arch_name} | {what} | {ref:.1f} | {ours:.1f} | '
                      f'{ours / ref:.2f}x of mmseg | |')
            else:
                print(f'| {arch_name} | {what} | {ref * 1e3:.1f} ms | '
                      f'{ours * 1e3:.1f} ms | {ref / ours:.2f}x | '
                      f'{spread[0]:.2f}-{spread[1]:.2f}x |')
    if args.per_stage:
        for arch in args.archs:
            print(f'\n{arch}, one block per stage, forward + backward, '
                  'batch 2 (rest = Mix-FFN, norms and residual adds)\n')
            print('| stage | blocks | tokens | attention mmseg / mmext | '
                  'rest mmseg / mmext | block speed-up (per-round range) |')
            print('|---|---:|---:|---|---|---|')
            for (stage, blocks, tokens, attn_ref, attn_ours, rest_ref,
                 rest_ours, spread) in stage_breakdown(
                     arch, args.size, args.repeats, device):
                print(f'| {stage} | {blocks} | {tokens} | '
                      f'{attn_ref * 1e3:.1f} / {attn_ours * 1e3:.1f} ms '
                      f'({attn_ref / attn_ours:.2f}x) | '
                      f'{rest_ref * 1e3:.1f} / {rest_ours * 1e3:.1f} ms '
                      f'({rest_ref / rest_ours:.2f}x) | '
                      f'{(attn_ref + rest_ref) / (attn_ours + rest_ours):.2f}x'
                      f' ({spread[0]:.2f}-{spread[1]:.2f}x) |')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
