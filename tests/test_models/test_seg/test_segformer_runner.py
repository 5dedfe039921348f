"""SegFormer through the tools and MMEngine's DDP.

The SegFormer configs train and test through tools/train.py and
tools/test.py and under 2-process gloo DDP. The paper configs use SyncBN;
run in a single non-distributed process they fall back to BN with a log line
saying so.

Both tests run the demo config
``segformer_mit-b0_1xb16-1600it_shapes-128x128.py`` on the shared ``tiny``
Shapes preset (64 px, 16 train / 8 val images; the demo config trains on
the scenes' own size) with a one-block-per-stage MiT and a few iterations.
The tools run in-process through their ``main(argv)``; the DDP test builds
a ``Runner`` with ``launcher='pytorch'`` in two gloo processes
(:func:`mmext.testing.run_distributed`).
"""
import glob
import json
import os.path as osp

import torch
from mmengine.hooks import Hook

from mmext.testing import run_distributed
from mmext.testing.tools import load_tool as _load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
CONFIG = osp.join(REPO, 'configs', 'segformer',
                  'segformer_mit-b0_1xb16-1600it_shapes-128x128.py')
FALLBACK = 'using BN instead'
TRAIN_ITERS = 30
DDP_ITERS = 4
NUM_VAL = 8  # images in the tiny preset's val split


def tiny_options(data_root: str, max_iters: int) -> dict:
    """``--cfg-options`` turning the demo config into a seconds-long run.

    The demo's pipelines do not resize (the scenes are the network's input
    size), so only the data preprocessor's ``size``, to which it pads
    training batches, follows the tiny preset's 64 px.
    """
    warmup = min(5, max_iters // 2)
    opts = {
        'model.backbone.depths': [1, 1, 1, 1],
        'model.data_preprocessor.size': (64, 64),
        'train_dataloader.batch_size': 4,
        # A few warm-up iterations instead of 100, so that 30 iterations
        # learn.
        'param_scheduler.0.end': warmup,
        'param_scheduler.0.start_factor': 0.1,
        'param_scheduler.1.begin': warmup,
        'param_scheduler.1.end': max_iters,
        'train_cfg.max_iters': max_iters,
        'train_cfg.val_interval': max_iters,
        'default_hooks.checkpoint.interval': max_iters,
        'default_hooks.logger.interval': 5,
    }
    for split in ('train', 'val', 'test'):
        opts[f'{split}_dataloader.dataset.data_root'] = data_root
        opts[f'{split}_dataloader.num_workers'] = 0
        opts[f'{split}_dataloader.persistent_workers'] = False
    for split in ('val', 'test'):
        opts[f'{split}_dataloader.batch_size'] = 4
    return opts


def as_cli(opts: dict) -> list:
    """``key=value`` words for ``--cfg-options`` (no spaces in values)."""
    return [
        f'{k}={v}'.replace(' ', '').replace("'", '') for k, v in opts.items()
    ]


def _run_dir(work_dir: str) -> str:
    """The single ``work_dir/<timestamp>`` folder a run wrote."""
    runs = [d for d in glob.glob(osp.join(work_dir, '*')) if osp.isdir(d)]
    assert len(runs) == 1, runs
    return runs[0]


def _read_json_lines(path: str) -> list:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def test_train_and_test_tools(shapes_tiny, tmp_path, restore_local_rank,
                              one_torch_thread):
    data_root = shapes_tiny
    opts = tiny_options(data_root, TRAIN_ITERS)
    # The visualizer is a named process-wide singleton
    # (Visualizer.get_instance): running both tools in one process needs a
    # distinct name per run, or the test run would reuse the training run's
    # visualizer and its save_dir instead of --show-dir.
    stamp = osp.basename(str(tmp_path))

    work_dir = str(tmp_path / 'train')
    train_tool = _load_tool('train.py')
    assert train_tool.main([
        CONFIG, '--work-dir', work_dir, '--cfg-options', *as_cli(opts),
        f'visualizer.name=segformer_train_{stamp}'
    ]) == 0

    ckpt = osp.join(work_dir, f'iter_{TRAIN_ITERS}.pth')
    assert osp.isfile(ckpt)
    run_dir = _run_dir(work_dir)
    with open(osp.join(run_dir, osp.basename(run_dir) + '.log')) as f:
        log = f.read()
    # SyncBN in the config, one non-distributed CPU process: BN, logged.
    assert 'SegFormerHead' in log and FALLBACK in log

    scalars = _read_json_lines(osp.join(run_dir, 'vis_data', 'scalars.json'))
    # Logged every 5 iterations (and at iteration 4, where MMEngine's
    # LoggerHook sees the end of the 4-batch train dataloader), each the
    # mean loss since the previous record.
    losses = [(s['step'], s['loss']) for s in scalars if 'loss' in s]
    assert losses[-1][0] == TRAIN_ITERS and len(losses) >= 6, losses
    # Learning: the last loss is clearly below the first.
    assert losses[-1][1] < 0.8 * losses[0][1], losses
    val = [s for s in scalars if 'mIoU' in s]
    assert len(val) == 1 and val[0]['step'] == TRAIN_ITERS
    val = val[0]
    assert 0.0 <= val['mIoU'] <= 100.0

    # tools/test.py on that checkpoint, painting the predictions.
    test_dir = str(tmp_path / 'test')
    show_dir = str(tmp_path / 'show')
    test_tool = _load_tool('test.py')
    assert test_tool.main([
        CONFIG, ckpt, '--work-dir', test_dir, '--show-dir', show_dir,
        '--cfg-options', *as_cli(opts),
        f'visualizer.name=segformer_test_{stamp}'
    ]) == 0
    test_run = _run_dir(test_dir)
    with open(osp.join(test_run, osp.basename(test_run) + '.json')) as f:
        test_metrics = json.load(f)
    # Same weights (the checkpoint is saved before the final val), same
    # data and pipeline: the same numbers.
    for key in ('aAcc', 'mIoU', 'mAcc'):
        assert test_metrics[key] == val[key], (key, test_metrics, val)
    pngs = glob.glob(osp.join(show_dir, '**', '*.png'), recursive=True)
    assert len(pngs) == NUM_VAL, (
        f'--show-dir {show_dir}: expected one painted PNG per val image '
        f'({NUM_VAL}), found {len(pngs)}')


class _Record(Hook):
    """Keep what a DDP rank started from and trained on."""

    def before_train(self, runner):
        # After Runner._init_model_weights (and its broadcast): the weights
        # training starts from.
        self.init = _flat_params(runner.model)
        self.img_paths = []

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.img_paths.append(
            sorted(
                osp.basename(s.img_path) for s in data_batch['data_samples']))


def _flat_params(model) -> torch.Tensor:
    return torch.cat(
        [p.detach().flatten().clone() for p in model.parameters()])


def _ddp_train(rank, world_size, data_root, work_dir):
    """Train the tiny SegFormer for DDP_ITERS iterations in this rank."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(tiny_options(data_root, DDP_ITERS))
    cfg.launcher = 'pytorch'
    cfg.work_dir = work_dir
    cfg.log_level = 'WARNING'
    # Different seeds per rank: the ranks also build different initial
    # weights, so equal weights at the end need DDP's broadcasts too.
    cfg.randomness = dict(seed=0, diff_rank_seed=True)
    runner = Runner.from_cfg(cfg)
    record = _Record()
    runner.register_hook(record)
    runner.train()
    module = runner.model.module
    return dict(wrapper=type(runner.model).__name__,
                world_size=runner.world_size,
                norm=type(module.decode_head.fuse_norm).__name__,
                init=record.init,
                params=_flat_params(runner.model),
                img_paths=record.img_paths)


def test_ddp_two_processes(shapes_tiny, tmp_path):
    data_root = shapes_tiny
    results = run_distributed(_ddp_train,
                              world_size=2,
                              args=(data_root, str(tmp_path / 'work_dir')),
                              timeout=180)
    for result in results:
        assert result['wrapper'] == 'MMDistributedDataParallel'
        assert result['world_size'] == 2
        # SyncBN cannot run on CPU tensors even under gloo DDP: BN.
        assert result['norm'] == 'BatchNorm2d'
        assert len(result['img_paths']) == DDP_ITERS
    rank0, rank1 = results
    # The premise that makes the check below able to fail: the sampler
    # gave the ranks different images in every iteration, so without
    # all-reduced gradients their weights would drift apart.
    for batch0, batch1 in zip(rank0['img_paths'], rank1['img_paths']):
        assert batch0 != batch1
    # Training started from one set of weights (rank 0's, broadcast) ...
    torch.testing.assert_close(rank0['init'], rank1['init'])
    moved = (rank0['params'] - rank0['init']).abs().max().item()
    assert moved > 1e-3, moved
    # ... and ended on one set. Parameters only: BN running statistics are
    # buffers, which MMDistributedDataParallel (broadcast_buffers=False)
    # keeps per rank, each from its own images.
    # (No comparison with one process trained on both ranks' batches: with
    # per-rank BN statistics, per-rank augmentation and gradient clipping of
    # the averaged gradient, it need not match, and is not required to.)
    torch.testing.assert_close(rank0['params'], rank1['params'])
    assert (tmp_path / 'work_dir' / f'iter_{DDP_ITERS}.pth').is_file()
