"""Benchmark mmext's CVP-MVSNet against the released code side by side.

The reference is the public repository JiayuYANG/CVP-MVSNet (Yang et al.,
CVPR 2020): ``--reference PATH`` names the user's clone of its
``CVP_MVSNet`` folder, whose ``models/net.py`` is imported from there at run
time (nothing of it ships with mmext). Without ``--reference`` only mmext's
side runs.

Both sides hold the same weights: the reference ``network`` is randomly
initialised (``--seed``), its state dict converted with
:func:`mmext.models.mvs.convert_reference_state_dict` and loaded strictly
into ``mmext.CVPMVSNet(reference_quirks=True)``, which then computes what
the released code computes. Two settings of the paper's recipe:

* ``test``: one forward at DTU's test setting, 1184x1600, 5 levels, 4
  source views, batch 1, the epipolar residual interval (the released
  ``mode='test'``), eval mode, ``torch.no_grad``;
* ``train``: one training step (forward, the loss, backward, Adam step with
  the released lr 1e-3) at 128x160, 2 levels, 2 source views, batch 16,
  the fixed interval 6.8085 (the released ``mode='train'``), train mode.
  Both sides compute the released loss, the sum over levels of the mean
  smooth L1 over pixels whose ground truth exceeds ``depth_min`` (the
  reference: its ``sL1_loss`` with ``gt > depth_min``; mmext:
  ``model(..., depths=gt, mode='loss')``, i.e.
  :func:`~mmext.models.mvs.multi_level_depth_loss`).

The calls timed are the plain ones: the reference's ``network(ref_img,
src_imgs, ref_in, src_in, ref_ex, src_ex, depth_min, depth_max)`` and
mmext's registered model, ``model(imgs, intrinsics, extrinsics, depth_min,
depth_max)`` (and ``mode='loss'`` for training).

Inputs (synthetic, DTU-like; :func:`make_inputs`): cameras on a ring 680 mm
from a target point, 35 degrees above it, 10 degrees apart in azimuth
(reference first, then +10, -10, +20, -20 degrees), intrinsics of DTU's
cameras scaled to the image (focal 2.26 x the width); smooth random images
in [0, 1]; for training, smooth ground truth in 425..935 mm with about 15 %
invalid (zero) pixels, subsampled for the coarser level. The depth range
is ``depth_min = 425`` and ``depth_max = 425 + 47 x 13.625 = 1065.375``
instead of DTU's ``425 + 256 x 2.5 = 1065``: the released code builds its
48 planes with ``torch.range(min, max, (max - min) / 47)``, which rounds to
47 planes for 1065 on current PyTorch (mmext always makes 48); with a
step of 13.625 mm (exact in float32) both make the same 48 planes. The
script prints the plane counts it checked.

Measurements, per setting:

* Time: ``--warmup`` untimed calls of each side (the first one is also the
  call whose outputs are compared), then ``--repeats`` rounds that call both
  sides once each, alternating which goes first (reference first in even
  rounds); the median per side and the per-round ratios. Wall time
  (``time.perf_counter``; CUDA events on a GPU).
* Peak memory. On CUDA: ``torch.cuda.max_memory_allocated`` during one more
  call, reset before it, above what was allocated when it began. On the
  CPU, the peak resident set (RSS) is the only number that covers every
  allocation (PyTorch's, oneDNN's, the C library's), but a process keeps
  its high-water mark from earlier, bigger calls, so each (side, setting)
  is measured in a fresh child process, one after another: the child
  (``python THIS_SCRIPT --child SPEC``) loads the same weights and inputs,
  builds the model (and the optimizer), takes its current RSS as the
  baseline, makes one call and reports its peak RSS minus the baseline:
  the memory the call needed beyond the model and the inputs, including
  what the C allocator kept. The peak is ``VmHWM`` of
  ``/proc/self/status``, reset to the current RSS just before the call
  (``5`` written to ``/proc/self/clear_refs``), not
  ``getrusage(RUSAGE_SELF).ru_maxrss``: on Linux a child started by
  fork + exec inherits the parent's high-water mark in ``ru_maxrss``
  (every child reported the benchmark process's own RSS), while ``VmHWM``
  belongs to the child's address space alone (``ru_maxrss`` remains the
  fallback where there is no ``/proc``). The same call also runs under
  ``torch.profiler`` with ``profile_memory=True``, whose record gives the
  peak of PyTorch's CPU allocator alone (tensors;
  :func:`mmext.utils.benchmark.cpu_peak_bytes`), reported beside it; the
  profiler is started once before the baseline so that its libraries are
  not counted.
* Equality: the maximum absolute difference between the sides of every
  depth level and of the confidence; for training also of the loss, of
  every gradient after the backward, of the parameters after the Adam step
  and of the BatchNorm running statistics (the goal for the outputs is
  <= 1e-4).

``--profile`` also prints where each side's time and memory go
(``torch.profiler`` over one call, top operators by self CPU time and by
self memory); use it on a shrunk size.

Usage::

    python tools/analysis_tools/benchmark_cvpmvsnet.py \\
        --reference /path/to/CVP-MVSNet/CVP_MVSNet --threads 2 \\
        --repeats 3 --out work_dirs/bench_cvpmvsnet.json
    # a quick run at a smaller size
    python tools/analysis_tools/benchmark_cvpmvsnet.py \\
        --reference /path/to/CVP_MVSNet --test-size 296 400 --levels 3 \\
        --batch-size 2 --repeats 2
    # one setting
    python tools/analysis_tools/benchmark_cvpmvsnet.py --settings test ...
"""
import argparse
import contextlib
import datetime
import gc
import importlib
import json
import math
import os
import os.path as osp
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import warnings
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F

from mmext.utils.atomic import atomic_write_json
from mmext.utils.benchmark import cpu_peak_bytes, cuda_peak_bytes, time_call

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SIDES = ('reference', 'mmext')
DEPTH_MIN = 425.0
DTU_DEPTH_MAX = 425.0 + 256 * 2.5
NUM_PLANES = 48
# (max - min) / 47 of DTU's range is 13.617...; 13.625 is exact in float32
# and the released torch.range gives 48 planes with it.
PLANE_STEP = 13.625
DEPTH_MAX = DEPTH_MIN + (NUM_PLANES - 1) * PLANE_STEP
TRAIN_INTERVAL = 6.8085  # the released training interval (mode='train')
GOAL = 1e-4
RING_DISTANCE = 680.0
RING_ELEVATION = 35.0
RING_AZIMUTHS = (0.0, 10.0, -10.0, 20.0, -20.0, 30.0, -30.0)
GT_RANGE = (425.0, 935.0)


def progress(message: str) -> None:
    """A line of progress on stderr (the tables go to stdout)."""
    print(f'[{datetime.datetime.now():%H:%M:%S}] {message}', file=sys.stderr,
          flush=True)


# --------------------------------------------------------------- settings
def settings_from_args(args: argparse.Namespace) -> Dict[str, dict]:
    """The settings to run, by name."""
    table = dict(
        test=dict(mode='test', height=args.test_size[0],
                  width=args.test_size[1], levels=args.levels,
                  src_views=args.test_src_views, batch=1),
        train=dict(mode='train', height=args.train_size[0],
                   width=args.train_size[1], levels=args.train_levels,
                   src_views=args.train_src_views, batch=args.batch_size))
    return {name: table[name] for name in args.settings}


def describe_setting(cfg: dict) -> str:
    """e.g. 'test forward, 1184x1600, 5 levels, 4 src, batch 1'."""
    what = 'test forward' if cfg['mode'] == 'test' else 'train step'
    return (f'{what}, {cfg["height"]}x{cfg["width"]}, {cfg["levels"]} '
            f'levels, {cfg["src_views"]} src, batch {cfg["batch"]}')


def check_setting(cfg: dict) -> None:
    """Sizes both networks accept (H, W divisible by 2 ** levels)."""
    factor = 2**cfg['levels']
    if cfg['height'] % factor or cfg['width'] % factor:
        raise SystemExit(
            f'{describe_setting(cfg)}: height and width must be divisible '
            f'by 2 ** levels = {factor}')
    if cfg['src_views'] >= len(RING_AZIMUTHS):
        raise SystemExit(f'at most {len(RING_AZIMUTHS) - 1} source views')


# ----------------------------------------------------------------- inputs
def reference_plane_count(depth_min: float, depth_max: float,
                          num_planes: int = NUM_PLANES) -> int:
    """Planes the released code's ``calSweepingDepthHypo`` makes for a
    float32 range: ``torch.range(min, max, (max - min) / (n - 1))``."""
    low = torch.tensor(depth_min, dtype=torch.float32)
    high = torch.tensor(depth_max, dtype=torch.float32)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # torch.range is deprecated
        return torch.range(low, high, (high - low) / (num_planes - 1)).numel()


def look_at(centre: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """World-to-camera [4, 4] (x right, y down, z forward), world z up."""
    z = target - centre
    z = z / z.norm()
    x = torch.linalg.cross(z, torch.tensor([0.0, 0.0, 1.0],
                                           dtype=z.dtype))
    x = x / x.norm()
    y = torch.linalg.cross(z, x)
    rotation = torch.stack([x, y, z])
    extrinsics = torch.eye(4, dtype=z.dtype)
    extrinsics[:3, :3] = rotation
    extrinsics[:3, 3] = -rotation @ centre
    return extrinsics


def ring_cameras(batch: int, views: int, height: int,
                 width: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """DTU-like intrinsics [B, V, 3, 3] and world-to-camera extrinsics
    [B, V, 4, 4] of cameras on a ring around the world origin."""
    target = torch.zeros(3, dtype=torch.float64)
    elevation = math.radians(RING_ELEVATION)
    intrinsics, extrinsics = [], []
    for view in range(views):
        azimuth = math.radians(RING_AZIMUTHS[view])
        centre = RING_DISTANCE * torch.tensor([
            math.cos(elevation) * math.sin(azimuth),
            -math.cos(elevation) * math.cos(azimuth),
            math.sin(elevation)
        ], dtype=torch.float64)
        extrinsics.append(look_at(centre, target))
        # DTU's 1600-wide camera: focal ~2892, principal point ~(823, 619)
        focal = 361.54 * width / 160 * (1 + 0.002 * view)
        intrinsics.append(torch.tensor(
            [[focal, 0.0, 82.9 * width / 160],
             [0.0, focal, 66.4 * height / 128], [0.0, 0.0, 1.0]],
            dtype=torch.float64))
    k = torch.stack(intrinsics).float().expand(batch, -1, -1, -1)
    e = torch.stack(extrinsics).float().expand(batch, -1, -1, -1)
    return k.contiguous(), e.contiguous()


def smooth_field(shape: Tuple[int, ...], height: int, width: int,
                 generator: torch.Generator, cell: int = 8) -> torch.Tensor:
    """Values in [0, 1], bilinear upsampling of a random grid of
    ``cell``-pixel cells: ``shape + (height, width)``."""
    low = torch.rand(int(math.prod(shape)), 1, max(1, height // cell),
                     max(1, width // cell), generator=generator)
    up = F.interpolate(low, size=(height, width), mode='bilinear',
                       align_corners=False)
    return up.view(*shape, height, width)


def make_inputs(cfg: dict, seed: int = 0) -> Dict[str, Any]:
    """Batch of a setting: ``imgs [B, V, 3, H, W]``, ``intrinsics``,
    ``extrinsics``, ``depth_min``, ``depth_max`` ``[B]`` and, for
    training, ``depths``: ground truth per level, finest first."""
    batch, views = cfg['batch'], cfg['src_views'] + 1
    height, width = cfg['height'], cfg['width']
    generator = torch.Generator().manual_seed(seed)
    imgs = smooth_field((batch, views, 3), height, width, generator, cell=4)
    intrinsics, extrinsics = ring_cameras(batch, views, height, width)
    inputs = dict(imgs=imgs, intrinsics=intrinsics, extrinsics=extrinsics,
                  depth_min=torch.full((batch, ), DEPTH_MIN),
                  depth_max=torch.full((batch, ), DEPTH_MAX))
    if cfg['mode'] == 'train':
        low, high = GT_RANGE
        depth = low + (high - low) * smooth_field(
            (batch, ), height, width, generator, cell=16)
        invalid = smooth_field((batch, ), height, width, generator,
                               cell=16) < 0.15
        depth = depth.masked_fill(invalid, 0.0)
        inputs['depths'] = [
            depth[:, ::2**level, ::2**level].contiguous()
            for level in range(cfg['levels'])
        ]
    return inputs


def inputs_to(inputs: Dict[str, Any], device: torch.device) -> dict:
    return {
        k: [t.to(device) for t in v] if isinstance(v, list) else v.to(device)
        for k, v in inputs.items()
    }


# -------------------------------------------------------------- reference
def _cuda_identity(self, *args, **kwargs):
    return self


@contextlib.contextmanager
def reference_context(device: torch.device):
    """Around every call of the released code: its ``.cuda()`` calls are
    the identity on the CPU, and its deprecation warnings (``torch.range``,
    ``meshgrid``) are silenced. Restored on exit."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        if device.type == 'cuda':
            yield
            return
        original = torch.Tensor.cuda
        torch.Tensor.cuda = _cuda_identity
        try:
            yield
        finally:
            torch.Tensor.cuda = original


def load_reference(path: str):
    """The released ``models/net.py`` of the clone at ``path`` (its
    ``CVP_MVSNet`` folder), imported from there; ``sys.path``,
    ``sys.modules`` (its package is called ``models``) and numpy's error
    settings (its ``modules.py`` sets ``np.seterr(all='raise')``) are left
    as they were."""
    import numpy as np
    path = osp.abspath(path)
    if not osp.isfile(osp.join(path, 'models', 'net.py')):
        raise SystemExit(
            f'--reference: {path} has no models/net.py; pass the '
            'CVP_MVSNet folder of a clone of JiayuYANG/CVP-MVSNet')

    def ours(name):
        return name == 'models' or name.startswith('models.')

    saved = {k: sys.modules.pop(k) for k in list(sys.modules) if ours(k)}
    numpy_errors = np.geterr()
    sys.path.insert(0, path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            net = importlib.import_module('models.net')
    finally:
        sys.path.remove(path)
        np.seterr(**numpy_errors)
        for name in [k for k in sys.modules if ours(k)]:
            del sys.modules[name]
        sys.modules.update(saved)
    return net


def reference_weights(net, seed: int) -> Dict[str, torch.Tensor]:
    """A randomly initialised reference network's state dict."""
    torch.manual_seed(seed)
    model = net.network(argparse.Namespace(nsrc=2, nscale=2, mode='train'))
    return {k: v.clone() for k, v in model.state_dict().items()}


# ----------------------------------------------------------------- models
def build_model(side: str, cfg: dict, state: Dict[str, torch.Tensor],
                net, device: torch.device) -> torch.nn.Module:
    """One side's network for a setting, holding ``state`` (the released
    layout for the reference, mmext's for mmext), in train or eval mode."""
    if side == 'reference':
        model = net.network(argparse.Namespace(
            nsrc=cfg['src_views'], nscale=cfg['levels'], mode=cfg['mode']))
    else:
        from mmext.models.mvs import CVPMVSNet
        model = CVPMVSNet(
            num_levels=cfg['levels'], num_initial_planes=NUM_PLANES,
            num_residual_planes=8,
            residual_interval=(TRAIN_INTERVAL
                               if cfg['mode'] == 'train' else 'epipolar'),
            reference_quirks=True)
    model.load_state_dict(state, strict=True)
    return model.to(device).train(cfg['mode'] == 'train')


def make_call(side: str, model: torch.nn.Module, inputs: dict, cfg: dict,
              net, device: torch.device) -> Callable[[], dict]:
    """One call of a side: a forward under ``no_grad`` (test) or a
    training step (train). Returns detached ``depths`` (finest first),
    ``confidence`` and, for training, ``loss``."""
    train = cfg['mode'] == 'train'
    optimizer = (torch.optim.Adam(model.parameters(), lr=1e-3,
                                  betas=(0.9, 0.999), weight_decay=0.0)
                 if train else None)
    if side == 'reference':
        ref_args = (inputs['imgs'][:, 0].contiguous(),
                    inputs['imgs'][:, 1:].contiguous(),
                    inputs['intrinsics'][:, 0].contiguous(),
                    inputs['intrinsics'][:, 1:].contiguous(),
                    inputs['extrinsics'][:, 0].contiguous(),
                    inputs['extrinsics'][:, 1:].contiguous(),
                    inputs['depth_min'], inputs['depth_max'])

        def forward():
            with reference_context(device):
                out = model(*ref_args)
            return out['depth_est_list'], out['prob_confidence']

        def loss_of(depths):
            valid_min = inputs['depth_min'].view(-1, 1, 1)
            return sum(
                net.sL1_loss(est, gt, gt > valid_min)
                for est, gt in zip(depths, inputs['depths']))

        if not train:
            def call():
                with torch.no_grad():
                    depths, confidence = forward()
                return dict(depths=depths, confidence=confidence)
            return call

        def call():
            optimizer.zero_grad(set_to_none=True)
            depths, confidence = forward()
            loss = loss_of(depths)
            loss.backward()
            optimizer.step()
            return dict(depths=[d.detach() for d in depths],
                        confidence=confidence, loss=loss.detach())
        return call

    keys = ('imgs', 'intrinsics', 'extrinsics', 'depth_min', 'depth_max')
    mm_args = [inputs[k] for k in keys]
    if not train:
        def call():
            with torch.no_grad():
                out = model(*mm_args)
            return dict(depths=out['depths'], confidence=out['confidence'])
        return call

    captured = {}

    def keep_outputs(module, args, out):
        captured.update(depths=[d.detach() for d in out['depths']],
                        confidence=out['confidence'])

    model.core.register_forward_hook(keep_outputs)

    def call():
        optimizer.zero_grad(set_to_none=True)
        loss = model(*mm_args, depths=inputs['depths'],
                     mode='loss')['loss_depth']
        loss.backward()
        optimizer.step()
        return dict(captured, loss=loss.detach())
    return call


# ------------------------------------------------------------ comparisons
def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.double() - b.double()).abs().max().item()


def output_differences(ref: dict, ours: dict) -> List[dict]:
    """Max |difference| of every depth level, the confidence and (when
    given) the loss, with the largest |value| beside it for scale."""
    rows = []
    for level, (a, b) in enumerate(zip(ref['depths'], ours['depths'])):
        if a.shape != b.shape:
            raise RuntimeError(f'depth level {level}: shapes {a.shape} and '
                               f'{b.shape} differ')
        rows.append(dict(
            what=f'depth, level {level} ({a.shape[-2]}x{a.shape[-1]})',
            max_abs_diff=_max_diff(a, b), max_abs=a.abs().max().item(),
            goal=GOAL))
    rows.append(dict(what='confidence',
                     max_abs_diff=_max_diff(ref['confidence'],
                                            ours['confidence']),
                     max_abs=ref['confidence'].abs().max().item(),
                     goal=GOAL))
    if 'loss' in ref:
        rows.append(dict(what='loss',
                         max_abs_diff=_max_diff(ref['loss'], ours['loss']),
                         max_abs=ref['loss'].abs().item(), goal=GOAL))
    return rows


def paired_tensors(ref_model: torch.nn.Module,
                   our_model: torch.nn.Module):
    """(name, reference tensor, mmext tensor) of every parameter and
    buffer, matched through the converter's names."""
    from mmext.models.mvs.convert import reference_key_to_mmext
    ours = dict(our_model.named_parameters())
    ours.update(our_model.named_buffers())
    named = list(ref_model.named_parameters()) + list(
        ref_model.named_buffers())
    for name, tensor in named:
        yield name, tensor, ours[reference_key_to_mmext(name)]


def training_differences(ref_model: torch.nn.Module,
                         our_model: torch.nn.Module) -> List[dict]:
    """After a training step: max |difference| of the gradients, the
    updated parameters and the BatchNorm running statistics."""
    grads, params, stats = [], [], []
    for name, a, b in paired_tensors(ref_model, our_model):
        if isinstance(a, torch.nn.Parameter):
            if a.grad is not None or b.grad is not None:
                if a.grad is None or b.grad is None:
                    raise RuntimeError(f'{name}: a gradient on one side '
                                       'only')
                grads.append((_max_diff(a.grad, b.grad),
                              a.grad.abs().max().item()))
            params.append((_max_diff(a, b), a.abs().max().item()))
        elif a.is_floating_point():
            stats.append((_max_diff(a, b), a.abs().max().item()))
    rows = []
    for what, pairs in ((f'gradients ({len(grads)} tensors)', grads),
                        (f'parameters after the Adam step ({len(params)} '
                         'tensors)', params),
                        (f'BatchNorm running statistics ({len(stats)} '
                         'tensors)', stats)):
        if pairs:
            rows.append(dict(what=what,
                             max_abs_diff=max(d for d, _ in pairs),
                             max_abs=max(m for _, m in pairs), goal=None))
    return rows


# ------------------------------------------------------------ measurement
def alternating_times(fns: Dict[str, Callable[[], Any]],
                      repeats: int,
                      device: torch.device,
                      first_round: int = 0,
                      after_round: Optional[Callable[[int], None]] = None
                      ) -> Dict[str, List[float]]:
    """Seconds of ``repeats`` calls of each function, one call of each per
    round, the order reversed every other round: the first function first
    in even rounds, counting from ``first_round`` (so that separate runs
    can continue one alternation). ``after_round(i)`` is called after
    round ``i`` (0-based, of this call)."""
    times = {name: [] for name in fns}
    names = list(fns)
    for index in range(repeats):
        order = names if (first_round + index) % 2 == 0 else names[::-1]
        for name in order:
            times[name].append(time_call(fns[name], device))
            progress(f'round {first_round + index + 1}, {name}: '
                     f'{times[name][-1]:.2f} s')
        if after_round is not None:
            after_round(index)
    return times


def _proc_status_bytes(field: str) -> Optional[int]:
    """``VmRSS`` / ``VmHWM`` of ``/proc/self/status`` in bytes (None where
    there is no such file)."""
    try:
        with open('/proc/self/status', encoding='utf-8') as handle:
            for line in handle:
                if line.startswith(field + ':'):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def current_rss_bytes() -> int:
    """This process's resident set now."""
    value = _proc_status_bytes('VmRSS')
    if value is None:  # no procfs: the high-water mark is all there is
        value = max_rss_bytes()
    return value


def max_rss_bytes() -> int:
    """``ru_maxrss`` of this process in bytes (Linux reports KiB)."""
    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return value if sys.platform == 'darwin' else value * 1024


def reset_peak_rss() -> bool:
    """Reset this process's peak RSS (``VmHWM``) to its current RSS
    (Linux >= 4.0: ``5`` to ``/proc/self/clear_refs``); False where that is
    not possible."""
    try:
        with open('/proc/self/clear_refs', 'w', encoding='utf-8') as handle:
            handle.write('5')
        return True
    except OSError:
        return False


def peak_rss_bytes() -> Tuple[int, str]:
    """(peak RSS of this process, how it was read): ``VmHWM`` (the peak of
    this address space), else ``ru_maxrss``."""
    value = _proc_status_bytes('VmHWM')
    if value is not None:
        return value, 'VmHWM'
    return max_rss_bytes(), 'ru_maxrss'


def run_child(spec_path: str) -> int:
    """Child process: one call of one side at one setting; writes the
    memory it took to ``spec_path + '.out'`` (see the module docstring)."""
    with open(spec_path, encoding='utf-8') as handle:
        spec = json.load(handle)
    torch.set_num_threads(spec['threads'])
    device = torch.device('cpu')
    side, cfg = spec['side'], spec['cfg']
    net = load_reference(spec['reference']) if side == 'reference' else None
    state = torch.load(osp.join(spec['workdir'], f'{side}_state.pth'),
                       weights_only=True)
    inputs = torch.load(osp.join(spec['workdir'],
                                 f'inputs_{spec["setting"]}.pth'),
                        weights_only=True)
    model = build_model(side, cfg, state, net, device)
    call = make_call(side, model, inputs, cfg, net, device)
    del state
    cpu_peak_bytes(lambda: torch.zeros(1))  # load the profiler's libraries
    gc.collect()
    baseline = current_rss_bytes()
    reset = reset_peak_rss()
    tensor_peak = cpu_peak_bytes(call)
    peak, method = peak_rss_bytes()
    result = dict(peak_rss_increase_bytes=peak - baseline,
                  baseline_rss_bytes=baseline, peak_rss_bytes=peak,
                  peak_tensor_bytes=tensor_peak,
                  method=method + (' after a reset' if reset else ''))
    with open(spec_path + '.out', 'w', encoding='utf-8') as handle:
        json.dump(result, handle)
    return 0


def child_memory(side: str, setting: str, cfg: dict, workdir: str,
                 reference: Optional[str], threads: int) -> dict:
    """Memory of one call of ``side`` at ``setting`` in a fresh process
    (the weights and inputs saved in ``workdir``)."""
    spec_path = osp.join(workdir, f'child_{side}_{setting}.json')
    with open(spec_path, 'w', encoding='utf-8') as handle:
        json.dump(dict(side=side, setting=setting, cfg=cfg, workdir=workdir,
                       reference=reference, threads=threads), handle)
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [REPO] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep)
                  if p])
    env['OMP_NUM_THREADS'] = str(threads)
    env.setdefault('KINETO_LOG_LEVEL', '6')  # the profiler's chatter
    subprocess.run([sys.executable, osp.abspath(__file__), '--child',
                    spec_path], check=True, env=env)
    with open(spec_path + '.out', encoding='utf-8') as handle:
        return json.load(handle)


def profile_call(fn: Callable[[], Any], row_limit: int = 15) -> str:
    """Top operators of one call by self CPU time and by self memory."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True,
                 record_shapes=True) as prof:
        fn()
    averages = prof.key_averages()
    return (averages.table(sort_by='self_cpu_time_total',
                           row_limit=row_limit) + '\n' +
            averages.table(sort_by='self_cpu_memory_usage',
                           row_limit=row_limit))


# ------------------------------------------------------------- benchmark
def benchmark_setting(name: str, cfg: dict, states: Dict[str, dict], net,
                      args: argparse.Namespace, device: torch.device,
                      workdir: str) -> dict:
    """Times, memory and output differences of one setting."""
    inputs = make_inputs(cfg, args.seed)
    torch.save(inputs, osp.join(workdir, f'inputs_{name}.pth'))
    inputs = inputs_to(inputs, device)
    sides = [s for s in SIDES if s in states]
    models = {s: build_model(s, cfg, states[s], net, device) for s in sides}
    calls = {s: make_call(s, models[s], inputs, cfg, net, device)
             for s in sides}
    record = dict(description=describe_setting(cfg), config=cfg,
                  sides={s: {} for s in sides})
    # The first call of each side is the compared one (for training,
    # gradients and weights are compared after it, before any other step):
    # a warm-up call, or with --warmup 0 the first timed round's.
    outputs = {}

    def compare():
        if len(sides) < 2:
            return
        record['differences'] = output_differences(outputs['reference'],
                                                   outputs['mmext'])
        if cfg['mode'] == 'train':
            record['differences'] += training_differences(
                models['reference'], models['mmext'])

    if not args.memory_only and args.warmup > 0:
        for side in sides:
            progress(f'{describe_setting(cfg)}: first call of {side}')
            outputs[side] = calls[side]()
        compare()
        outputs.clear()
        for side in sides:
            for _ in range(args.warmup - 1):
                calls[side]()
    if args.profile:
        for side in sides:
            print(f'\n## profile: {side}, {describe_setting(cfg)}\n')
            print(profile_call(calls[side]))
    if not args.memory_only:
        keep = args.warmup == 0

        def timed(side):
            def run():
                out = calls[side]()
                if keep:
                    outputs[side] = out
            return run

        def after_round(index):
            nonlocal keep
            if keep:
                keep = False
                compare()
                outputs.clear()

        progress(f'{describe_setting(cfg)}: {args.repeats} timed rounds')
        times = alternating_times({s: timed(s) for s in sides},
                                  args.repeats, device, args.round_offset,
                                  after_round)
        for side in sides:
            record['sides'][side].update(
                times_s=times[side], median_s=statistics.median(times[side]))
    if args.no_memory:
        pass
    elif device.type == 'cuda':
        for side in sides:
            record['sides'][side]['memory'] = dict(
                peak_allocated_bytes=cuda_peak_bytes(calls[side], device))
    else:
        del calls, models
        gc.collect()
        for side in sides:
            progress(f'memory of {side} in a fresh process')
            record['sides'][side]['memory'] = child_memory(
                side, name, cfg, workdir, args.reference, args.threads)
    if len(sides) == 2:
        record['ratios'] = side_ratios(record['sides'])
    return record


def side_ratios(sides: Dict[str, dict]) -> dict:
    """mmext / reference of the median times (and per round) and of the
    memory, where measured."""
    ref, ours = sides['reference'], sides['mmext']
    ratios = {}
    if 'median_s' in ours and 'median_s' in ref:
        ratios.update(time=ours['median_s'] / ref['median_s'],
                      time_per_round=[
                          b / a for a, b in zip(ref['times_s'],
                                                ours['times_s'])
                      ])
    if 'memory' in ours and 'memory' in ref:
        key = memory_key(ours['memory'])
        ratios['memory'] = ours['memory'][key] / ref['memory'][key]
        if 'peak_tensor_bytes' in ours['memory']:
            ratios['tensor_memory'] = (ours['memory']['peak_tensor_bytes'] /
                                       ref['memory']['peak_tensor_bytes'])
    return ratios


def merge_records(records: List[dict]) -> dict:
    """One record from the records of several runs (e.g. rounds run in
    separate processes with ``--round-offset``, and a ``--memory-only``
    run): the times of each side are concatenated in the order given,
    the memory is the last run's that measured it, each compared
    quantity keeps its largest difference; medians and ratios are
    recomputed."""
    merged = dict(records[0], settings={},
                  date=' / '.join(sorted({r['date'] for r in records})),
                  merged_from=[dict(date=r['date'], args=r['args'],
                                    machine=r['machine']) for r in records])
    rounds = 0
    for name in dict.fromkeys(n for r in records for n in r['settings']):
        parts = [r['settings'][name] for r in records
                 if name in r['settings']]
        setting = dict(description=parts[0]['description'],
                       config=parts[0]['config'], sides={})
        for part in parts:
            for side, result in part['sides'].items():
                into = setting['sides'].setdefault(side, {})
                if 'times_s' in result:
                    into.setdefault('times_s', []).extend(result['times_s'])
                if 'memory' in result:
                    into['memory'] = result['memory']
            for row in part.get('differences', []):
                rows = setting.setdefault('differences', [])
                same = [r for r in rows if r['what'] == row['what']]
                if not same:
                    rows.append(dict(row))
                elif row['max_abs_diff'] > same[0]['max_abs_diff']:
                    same[0].update(row)
        for result in setting['sides'].values():
            if 'times_s' in result:
                result['median_s'] = statistics.median(result['times_s'])
                rounds = max(rounds, len(result['times_s']))
        if len(setting['sides']) == 2:
            setting['ratios'] = side_ratios(setting['sides'])
        merged['settings'][name] = setting
    merged['repeats'] = rounds
    merged['warmup'] = min(r['warmup'] for r in records)
    return merged


def memory_key(memory: dict) -> str:
    return ('peak_allocated_bytes' if 'peak_allocated_bytes' in memory else
            'peak_rss_increase_bytes')


def cpu_model() -> str:
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as handle:
            for line in handle:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(device: torch.device, threads: int) -> dict:
    info = dict(cpu=cpu_model(), cpu_count=os.cpu_count(), threads=threads,
                torch=torch.__version__, python=platform.python_version(),
                device=str(device),
                load_average=list(os.getloadavg()))
    try:
        pages = os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE')
        info['memory_gib'] = round(pages / 2**30, 1)
    except (ValueError, OSError):
        pass
    if device.type == 'cuda':
        info['gpu'] = torch.cuda.get_device_name(device)
    return info


# ----------------------------------------------------------------- output
def _mib(value: Optional[float]) -> str:
    return '—' if value is None else f'{value / 2**20:.0f}'


def format_tables(record: dict) -> str:
    """The markdown tables of a benchmark record (see :func:`main`)."""
    machine = record['machine']
    where = machine.get('gpu') or (f'{machine["cpu"]}, '
                                   f'{machine["threads"]} threads')
    cuda = 'gpu' in machine
    mem_title = ('peak allocated (MiB)' if cuda else
                 'peak RSS increase (MiB) | peak tensor memory (MiB)')
    lines = [
        f'# {record["date"]}, torch {machine["torch"]}, {where}, fp32, '
        f'median of {record["repeats"]} rounds after {record["warmup"]} '
        'warm-up call(s)',
        f'# depth range {record["depth_range"]["min"]:g}..'
        f'{record["depth_range"]["max"]:g} mm: '
        f'{record["depth_range"]["reference_planes"]} planes in the '
        "released code's torch.range (DTU's "
        f'{record["depth_range"]["dtu_max"]:g} would give '
        f'{record["depth_range"]["dtu_reference_planes"]}), '
        f'{NUM_PLANES} in mmext', '',
        f'| setting | side | time (s, median) | {mem_title} |',
        '|---|---|---:|---:|' + ('' if cuda else '---:|')
    ]
    for record_setting in record['settings'].values():
        label = record_setting['description']
        for side in SIDES:
            result = record_setting['sides'].get(side)
            if result is None:
                continue
            memory = result.get('memory', {})
            cells = [f'{result["median_s"]:.3f}'
                     if 'median_s' in result else '—']
            if cuda:
                cells.append(_mib(memory.get('peak_allocated_bytes')))
            else:
                cells += [_mib(memory.get('peak_rss_increase_bytes')),
                          _mib(memory.get('peak_tensor_bytes'))]
            name = 'mmext' if side == 'mmext' else 'reference (released)'
            lines.append(f'| {label} | {name} | {" | ".join(cells)} |')
            label = ''
        ratios = record_setting.get('ratios')
        if ratios:
            per_round = ratios.get('time_per_round')
            cells = [f'**{ratios["time"]:.2f}x** '
                     f'({min(per_round):.2f}-{max(per_round):.2f}x)'
                     if per_round else '—']
            keys = ['memory'] if cuda else ['memory', 'tensor_memory']
            cells += [f'**{ratios[k]:.2f}x**' if k in ratios else '—'
                      for k in keys]
            lines.append(f'| | **mmext / reference** | {" | ".join(cells)} |')
    diff_rows = [(s['description'], row)
                 for s in record['settings'].values()
                 for row in s.get('differences', [])]
    if diff_rows:
        lines += ['', '| setting | compared | max abs diff | max abs value '
                  '| goal |', '|---|---|---:|---:|---|']
        label = None
        for description, row in diff_rows:
            goal = row.get('goal')
            status = ('—' if goal is None else
                      f'<= {goal:g}: '
                      f'{"met" if row["max_abs_diff"] <= goal else "NOT met"}')
            lines.append(
                f'| {description if description != label else ""} | '
                f'{row["what"]} | {row["max_abs_diff"]:.2e} | '
                f'{row["max_abs"]:.4g} | {status} |')
            label = description
    for record_setting in record['settings'].values():
        if 'note' in record_setting:
            lines.append(f'\n{record_setting["description"]}: '
                         f'{record_setting["note"]}')
    return '\n'.join(lines)


# ------------------------------------------------------------------ main
def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--reference', help="the CVP_MVSNet folder of a "
                        'clone of JiayuYANG/CVP-MVSNet (without it: mmext '
                        'only)')
    parser.add_argument('--settings', nargs='+', default=['test', 'train'],
                        choices=['test', 'train'])
    parser.add_argument('--test-size', nargs=2, type=int,
                        default=[1184, 1600], metavar=('H', 'W'))
    parser.add_argument('--levels', type=int, default=5,
                        help='pyramid levels of the test setting')
    parser.add_argument('--test-src-views', type=int, default=4)
    parser.add_argument('--train-size', nargs=2, type=int,
                        default=[128, 160], metavar=('H', 'W'))
    parser.add_argument('--train-levels', type=int, default=2)
    parser.add_argument('--train-src-views', type=int, default=2)
    parser.add_argument('--batch-size', type=int, default=16,
                        help='batch of the training step')
    parser.add_argument('--repeats', type=int, default=3,
                        help='timed rounds (one call of each side each)')
    parser.add_argument('--warmup', type=int, default=1,
                        help='untimed calls of each side first; the first '
                        "one's outputs are compared (with 0: the first "
                        "timed round's)")
    parser.add_argument('--round-offset', type=int, default=0,
                        help='index of the first round, for the order '
                        '(reference first in even rounds): continues an '
                        'alternation over separate runs')
    parser.add_argument('--threads', type=int, default=2,
                        help='torch CPU threads (default 2)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the weights and the inputs')
    parser.add_argument('--no-memory', action='store_true',
                        help='skip the memory measurement')
    parser.add_argument('--memory-only', action='store_true',
                        help='measure the memory only (no comparison, no '
                        'timing)')
    parser.add_argument('--merge', nargs='+', metavar='JSON',
                        help='print (and with --out save) the merged '
                        'records of earlier runs (--out files) instead of '
                        'running')
    parser.add_argument('--profile', action='store_true',
                        help='print the top operators of one call per side')
    parser.add_argument('--out', help='write the numbers to this JSON')
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error('--repeats: need at least 1')
    if args.warmup < 0:
        parser.error('--warmup: need 0 or more')
    if args.memory_only and args.no_memory:
        parser.error('--memory-only and --no-memory exclude each other')
    return args


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ['--child']:
        return run_child(argv[1])
    args = parse_args(argv)
    if args.merge:
        records = []
        for path in args.merge:
            with open(path, encoding='utf-8') as handle:
                records.append(json.load(handle))
        record = merge_records(records)
        print(format_tables(record))
        if args.out:
            atomic_write_json(args.out, record, indent=1)
        return 0
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    settings = settings_from_args(args)
    for cfg in settings.values():
        check_setting(cfg)
    machine = machine_info(device, args.threads)
    from mmext.models.mvs import convert_reference_state_dict
    net = None
    if args.reference:
        args.reference = osp.abspath(args.reference)
        net = load_reference(args.reference)
        ref_state = reference_weights(net, args.seed)
        states = dict(reference=ref_state,
                      mmext=convert_reference_state_dict(ref_state))
    else:
        from mmext.models.mvs import CVPMVSNet
        torch.manual_seed(args.seed)
        states = dict(mmext=CVPMVSNet().state_dict())
    depth_range = dict(
        min=DEPTH_MIN, max=DEPTH_MAX, dtu_max=DTU_DEPTH_MAX,
        reference_planes=reference_plane_count(DEPTH_MIN, DEPTH_MAX),
        dtu_reference_planes=reference_plane_count(DEPTH_MIN,
                                                   DTU_DEPTH_MAX))
    record = dict(date=datetime.date.today().isoformat(), machine=machine,
                  args=vars(args),
                  repeats=0 if args.memory_only else args.repeats,
                  warmup=args.warmup, depth_range=depth_range,
                  settings={})
    with tempfile.TemporaryDirectory() as workdir:
        for side, state in states.items():
            torch.save(state, osp.join(workdir, f'{side}_state.pth'))
        for name, cfg in settings.items():
            record['settings'][name] = benchmark_setting(
                name, cfg, states, net, args, device, workdir)
    machine['load_average_end'] = list(os.getloadavg())
    print(format_tables(record))
    if args.out:
        atomic_write_json(args.out, record, indent=1)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
