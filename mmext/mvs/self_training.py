"""The self-supervised CVP-MVSNet pipeline as one resumable command.

Yang, Alvarez, Liu, "Self-supervised Learning of Depth Inference for
Multi-view Stereo", CVPR 2021, arXiv:2104.02972: (1) train without depth
labels, from an image-reconstruction loss; (2) label the training scans
with the network (:mod:`mmext.mvs.pseudo_depth`); (3) train with the
supervised loss on those labels; repeat (2)-(3). The reference chains shell
scripts by hand (``self_training/self_training.sh``, then ``train.sh``);
here a pipeline config names every part and :func:`run_self_training`
(``tools/mvs/self_train.py``) runs them in order, each stage with the
standard MMEngine runner::

    WORK_DIR/unsupervised/            stage 1 (a runner work dir)
    WORK_DIR/pseudo/round{k}/         round k's labels (DTU Depths/ layout)
    WORK_DIR/round{k}/                round k's training (a runner work dir)

A finished stage (its final checkpoint exists) is skipped, a stopped
training stage resumes from its last checkpoint, and a stopped labelling
round continues with the scans it has not finished; nothing a finished
stage wrote is replaced.

The pipeline config is a training config (each round's recipe, with the
supervised loss) plus::

    self_training = dict(
        unsupervised='path/to/stage1_config.py',  # relative to this file
        rounds=2,
        init_from_previous=False)  # True: round k starts from round
                                   # k-1's weights; False (the reference's
                                   # train.sh): from scratch
    pseudo_label = dict(
        model=dict(...),           # overrides of `model` for labelling
        data=dict(type='mmext.DTUMVSDataset', ...),  # high-res train scans
        target=dict(data_root=..., cameras='train_root' | 'adjusted', ...),
        settings=dict(confidence_threshold=0.8, ...))  # PseudoLabelSettings
"""
import copy
import glob
import os.path as osp
from typing import List, Optional, Tuple

from mmengine.config import Config, ConfigDict

from mmext.datasets.dtu_io import (DTULayout, read_cam_txt, read_pair_txt,
                                   read_scan_list)
from mmext.utils.validation import is_int_at_least
from .pseudo_depth import (SCAN_LIST_FILE, PseudoLabelSettings, RenderTarget,
                           adjust_camera, make_pseudo_depth,
                           round_is_complete)

__all__ = [
    'build_render_target', 'pseudo_label_round', 'run_self_training',
    'next_round', 'round_numbers', 'final_checkpoint'
]

CAMERA_SOURCES = ('train_root', 'adjusted')


def _image_size(path: str) -> Tuple[int, int]:
    from PIL import Image
    with Image.open(path) as image:
        width, height = image.size
    return height, width


def build_render_target(target_cfg: dict, dataset) -> RenderTarget:
    """Scans, views, cameras and size of the labels.

    ``target_cfg``:

    * ``data_root``: the training root (scans from its
      ``scan_list_train.txt``, views from its ``Cameras/pair.txt``; its
      ``Depths/`` serve as ground truth for the labels' accuracy when
      ``with_gt=True``);
    * ``cameras='train_root'``: render with the training root's cameras at
      its images' size (Shapes-MVS), or ``'adjusted'``: the high-resolution
      cameras of ``dataset`` through :func:`~.pseudo_depth.adjust_camera`
      with ``scale``, ``offset`` and ``size`` (the reference on DTU: 1/8,
      (-20, -11), (128, 160));
    * ``num_depth_intervals`` (256): ``depth_max = depth_min + n *
      interval`` of view 0's camera.

    Raises:
        ValueError: A missing root, an unknown ``cameras`` or a missing
            ``size`` (names the field).
    """
    cfg = dict(target_cfg)
    root = cfg.get('data_root')
    if not isinstance(root, str) or not osp.isdir(root):
        raise ValueError(f'pseudo_label.target.data_root={root!r} is not a '
                         'directory; point it at the training data root')
    layout = DTULayout(root)
    scans = read_scan_list(layout.scan_list('train'))
    views = sorted(read_pair_txt(layout.pair_file()))
    source = cfg.get('cameras', 'train_root')
    if source == 'train_root':
        cameras = {v: read_cam_txt(layout.cam_file(v)) for v in views}
        size = _image_size(layout.train_image(scans[0], views[0],
                                              DTULayout.TEST_LIGHT))
    elif source == 'adjusted':
        if 'size' not in cfg or 'scale' not in cfg:
            raise ValueError("pseudo_label.target: cameras='adjusted' needs "
                             'scale, offset and size (H, W), e.g. '
                             'scale=0.125, offset=(-20, -11), size=(128, 160)')
        cameras = {
            v: adjust_camera(dataset.camera(dataset.scans[0], v),
                             float(cfg['scale']),
                             tuple(cfg.get('offset', (0.0, 0.0))))
            for v in views
        }
        size = tuple(int(x) for x in cfg['size'])
    else:
        raise ValueError(f'pseudo_label.target.cameras={source!r} must be '
                         f'one of {CAMERA_SOURCES}')
    first = cameras[views[0]]
    intervals = int(cfg.get('num_depth_intervals', 256))
    return RenderTarget(scans=scans, views=views, cameras=cameras,
                        size=size, depth_min=float(first.depth_min),
                        depth_max=float(first.depth_max(intervals)),
                        gt_root=root if cfg.get('with_gt', False) else None)


def _check_pseudo_label(cfg: Config) -> None:
    if 'pseudo_label' not in cfg:
        raise ValueError('config: no pseudo_label section; use a '
                         'self-training config (see mmext.mvs.self_training)')


def _settings(cfg: Config) -> PseudoLabelSettings:
    _check_pseudo_label(cfg)
    values = dict(cfg.pseudo_label.get('settings', {}))
    known = set(PseudoLabelSettings.__dataclass_fields__)
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f'pseudo_label.settings: unknown keys {unknown}; '
                         f'known: {sorted(known)}')
    return PseudoLabelSettings(**values)


def labelling_cfg(cfg: Config) -> Config:
    """The config whose ``model`` labels: ``model`` updated with
    ``pseudo_label.model``."""
    _check_pseudo_label(cfg)
    labelling = copy.deepcopy(cfg)
    labelling.merge_from_dict(
        dict(model=dict(cfg.pseudo_label.get('model', {}))))
    return labelling


def load_labelling_model(cfg: Config, checkpoint: str, device: str = 'cpu'):
    """The labelling network with ``checkpoint``'s weights, every key
    matched.

    Raises:
        FileNotFoundError: No such checkpoint.
        ValueError: The checkpoint belongs to another model (names it and
            the config).
    """
    from mmext.apis import init_model
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint {checkpoint!r} does not exist')
    try:
        return init_model(labelling_cfg(cfg), checkpoint, device=device,
                          strict=True)
    except RuntimeError as err:
        raise ValueError(
            f'checkpoint {checkpoint!r} does not fit the model of '
            f'{cfg.filename!r} ({cfg.model.get("type")}): '
            f'{str(err).splitlines()[0]}; pass a checkpoint of that '
            'network') from err


def round_numbers(folder: str) -> List[int]:
    """The ``k`` of every ``round{k}`` entry under ``folder``, ascending."""
    numbers = []
    for path in glob.glob(osp.join(folder, 'round*')):
        name = osp.basename(path)[len('round'):]
        if name.isdigit():
            numbers.append(int(name))
    return sorted(numbers)


def next_round(out_dir: str) -> int:
    """1 + the highest complete ``round{k}`` under ``out_dir`` (1 if none);
    an unfinished highest round is continued instead."""
    rounds = round_numbers(out_dir)
    if not rounds:
        return 1
    last = max(rounds)
    done = round_is_complete(osp.join(out_dir, f'round{last}'))
    return last + 1 if done else last


def _dist_info() -> Tuple[int, int]:
    from mmengine.dist import get_dist_info
    return get_dist_info()


def pseudo_label_round(cfg: Config, checkpoint: str, round_dir: str,
                       device: str = 'cpu',
                       progress: bool = True) -> Optional[dict]:
    """One labelling round with the config's ``pseudo_label`` section.

    Returns:
        dict or None: ``summary.json`` (rank 0), None on other ranks.
    """
    from mmext.registry import DATASETS
    settings = _settings(cfg)
    model = load_labelling_model(cfg, checkpoint, device)
    data_cfg = dict(cfg.pseudo_label.data)
    dataset = DATASETS.build(data_cfg)
    target = build_render_target(cfg.pseudo_label.target, dataset)
    rank, world_size = _dist_info()
    return make_pseudo_depth(
        model, dataset, target, round_dir, settings, rank=rank,
        world_size=world_size, progress=progress and rank == 0,
        extra_meta=dict(checkpoint=osp.abspath(checkpoint),
                        config=cfg.filename))


def _max_progress(cfg: Config) -> Tuple[str, int]:
    loop = cfg.train_cfg
    if 'max_iters' in loop:
        return 'iter', int(loop.max_iters)
    return 'epoch', int(loop.max_epochs)


def final_checkpoint(cfg: Config, work_dir: str) -> Optional[str]:
    """The checkpoint a finished training run leaves in ``work_dir``
    (``iter_{max_iters}.pth`` or ``epoch_{max_epochs}.pth``), else None."""
    unit, count = _max_progress(cfg)
    path = osp.join(work_dir, f'{unit}_{count}.pth')
    return path if osp.isfile(path) else None


def _train(cfg: Config, work_dir: str, launcher: str,
           load_from: Optional[str]) -> str:
    """Run (or resume, or skip) one training stage; its final checkpoint."""
    from mmext.utils.cli import build_runner
    from mmext.utils.cpu_dist import setup_cpu_distributed
    done = final_checkpoint(cfg, work_dir)
    if done:
        return done
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = work_dir
    cfg.launcher = launcher
    if osp.isfile(osp.join(work_dir, 'last_checkpoint')):
        cfg.resume = True
        cfg.load_from = None
    elif load_from is not None:
        cfg.load_from = load_from
    setup_cpu_distributed(cfg)
    runner = build_runner(cfg)
    runner.train()
    _barrier()
    done = final_checkpoint(cfg, work_dir)
    if done is None:
        raise RuntimeError(f'training in {work_dir!r} ended without its final '
                           'checkpoint; check the checkpoint hook settings')
    return done


def init_distributed(cfg: Config, launcher: str) -> None:
    """Start the process group of a ``launcher`` run before any stage, so
    that a labelling round after skipped training stages is split between
    the processes too (gloo on CPU-only machines)."""
    import torch.distributed as dist

    from mmext.utils.cpu_dist import setup_cpu_distributed
    if launcher == 'none' or (dist.is_available() and dist.is_initialized()):
        return
    cfg = copy.deepcopy(cfg)
    cfg.launcher = launcher
    if not setup_cpu_distributed(cfg):
        from mmengine.dist import init_dist
        env_cfg = cfg.get('env_cfg') or {}
        init_dist(launcher, **(env_cfg.get('dist_cfg') or {}))


def _barrier() -> None:
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def stage_configs(cfg: Config) -> Tuple[Config, int, bool]:
    """The stage-1 config, the number of rounds and whether each round
    starts from the previous weights.

    Raises:
        ValueError: A missing or malformed ``self_training`` section
            (names the field).
    """
    section = cfg.get('self_training')
    if not isinstance(section, (dict, ConfigDict)):
        raise ValueError('config: no self_training section; see '
                         'mmext.mvs.self_training for the fields')
    unsupervised = section.get('unsupervised')
    if not isinstance(unsupervised, str):
        raise ValueError('self_training.unsupervised: the stage-1 config '
                         'path (relative to this config) is required')
    if not osp.isabs(unsupervised):
        unsupervised = osp.join(osp.dirname(cfg.filename), unsupervised)
    if not osp.isfile(unsupervised):
        raise ValueError(f'self_training.unsupervised: {unsupervised!r} '
                         'does not exist')
    rounds = section.get('rounds', 2)
    if not is_int_at_least(rounds, 1):
        raise ValueError(f'self_training.rounds={rounds!r} must be an '
                         'integer >= 1')
    return (Config.fromfile(unsupervised), rounds,
            bool(section.get('init_from_previous', False)))


def round_training_cfg(cfg: Config, labels: str) -> Config:
    """Round training: the pipeline config reading ``labels`` as depth,
    on the scans that got labels.

    Raises:
        ValueError: The round labelled no scan.
    """
    scan_list = osp.join(labels, SCAN_LIST_FILE)
    with open(scan_list, encoding='utf-8') as handle:
        labelled = handle.read().split()
    if not labelled:
        raise ValueError(
            f'pseudo labels {labels!r}: no scan kept enough fused points '
            '(see summary.json); lower pseudo_label.settings.min_points or '
            'confidence_threshold, or train stage 1 longer')
    cfg = copy.deepcopy(cfg)
    dataset = cfg.train_dataloader.dataset
    dataset.depth_root = labels
    dataset.with_depth = True
    dataset.scan_list = osp.abspath(scan_list)
    return cfg


def run_self_training(cfg: Config, work_dir: str, launcher: str = 'none',
                      device: str = 'cpu') -> dict:
    """Stage 1, then ``rounds`` of labelling and training (see the module
    docstring).

    Returns:
        dict: ``checkpoints`` (stage name -> final checkpoint) and
        ``labels`` (round -> summary, rank 0 only).
    """
    unsupervised, rounds, from_previous = stage_configs(cfg)
    # fail on a bad pseudo-label section before hours of training
    _settings(cfg)
    init_distributed(cfg, launcher)
    checkpoints, labels = {}, {}
    checkpoint = _train(unsupervised, osp.join(work_dir, 'unsupervised'),
                        launcher, None)
    checkpoints['unsupervised'] = checkpoint
    for index in range(1, rounds + 1):
        label_dir = osp.join(work_dir, 'pseudo', f'round{index}')
        if not round_is_complete(label_dir):
            labels[index] = pseudo_label_round(cfg, checkpoint, label_dir,
                                               device)
        _barrier()
        checkpoint = _train(round_training_cfg(cfg, label_dir),
                            osp.join(work_dir, f'round{index}'), launcher,
                            checkpoint if from_previous else None)
        checkpoints[f'round{index}'] = checkpoint
    return dict(checkpoints=checkpoints, labels=labels)
