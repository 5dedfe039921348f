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

Usage::

    python tools/analysis_tools/benchmark_segformer.py --archs b0 b2 \
        --size 512 512 --threads 2 --repeats 7
"""
import argparse
from typing import Callable, List

import torch
from torch import nn

from mmext.models.seg import MIT_ARCHS, MiT
from mmext.models.seg.segformer_convert import convert_segformer
from mmext.utils.benchmark import (cuda_peak_bytes, describe_device,
                                   interleaved_medians)


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
    from mmseg.models.decode_heads import SegformerHead

    from mmext.models.seg import SegFormerHead
    spec = MIT_ARCHS[arch]
    common = dict(in_channels=list(spec.embed_dims), in_index=[0, 1, 2, 3],
                  num_classes=150, norm_cfg=dict(type='BN'))
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
    t = interleaved_medians({'mmseg': forward(ref), 'mmext': forward(ours)},
                            repeats, device)
    rows.append((arch, 'forward, batch 1', t['mmseg'], t['mmext']))
    ref.train()
    ours.train()
    t = interleaved_medians({'mmseg': train_step(ref),
                             'mmext': train_step(ours)}, repeats, device)
    rows.append((arch, 'train step, batch 2', t['mmseg'], t['mmext']))
    mem = {name: train_memory_bytes(train_loss(m), device) / 2**20
           for name, m in (('mmseg', ref), ('mmext', ours))}
    rows.append((arch, 'train memory (MiB)', mem['mmseg'], mem['mmext']))

    ref_head, our_head = build_segmentor_heads(arch, device)
    ref.eval()
    ours.eval()

    def segment(backbone, head):
        def run():
            with torch.no_grad(), autocast:
                head(backbone(image1))
        return run

    t = interleaved_medians({'mmseg': segment(ref, ref_head),
                             'mmext': segment(ours, our_head)}, repeats,
                            device)
    rows.append((arch, 'segmentor forward, batch 1', t['mmseg'],
                 t['mmext']))
    return rows


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--archs', nargs='+', default=['b0', 'b2'],
                        choices=sorted(MIT_ARCHS))
    parser.add_argument('--size', nargs=2, type=int, default=[512, 512],
                        metavar=('H', 'W'))
    parser.add_argument('--repeats', type=int, default=7)
    parser.add_argument('--threads', type=int, default=2,
                        help='torch CPU threads (default 2)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--dtype', default='fp32',
                        choices=['fp32', 'fp16', 'bf16'])
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
          'memory ratio |')
    print('|---|---|---|---|---|')
    for arch in args.archs:
        for arch_name, what, ref, ours in bench_arch(
                arch, args.size, args.repeats, device, dtype):
            if 'memory' in what:
                print(f'| {arch_name} | {what} | {ref:.1f} | {ours:.1f} | '
                      f'{ours / ref:.2f}x of mmseg |')
            else:
                print(f'| {arch_name} | {what} | {ref * 1e3:.1f} ms | '
                      f'{ours * 1e3:.1f} ms | {ref / ours:.2f}x |')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
