"""Generate a whole Shapes output directory, atomically.

:func:`generate_shapes` renders into a sibling ``OUT.tmp-XXXX`` directory
and renames it to ``OUT`` only when everything is written, so an
interrupted run never leaves a partial dataset under ``OUT``. An existing
``OUT`` is replaced only if it is empty or a previous Shapes output (its
``meta.json`` names this generator); :mod:`.output` does both, for
Shapes-MVS too.
"""
import os.path as osp
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from mmext.structures.panoptic import id2rgb

from . import output
from .classes import (STUFF_CLASSES, THING_CLASSES, class_tables,
                      stuff_category_id)
from .coco import coco_json, image_entry, instance_annotations
from .fileio import dump_json, write_jpeg, write_png_gray, write_png_rgb
from .imagenet import write_crops
from .lvis import (lvis_annotations, lvis_categories, lvis_image_entry,
                   lvis_json, lvis_frequency, plan_long_tail)
from .panoptic import panoptic_annotation, panoptic_json, panoptic_segments
from .presets import (GENERATOR_NAME, GENERATOR_VERSION, ShapesPreset,
                      get_preset)
from .scene import render_scene
from .seeding import stream_rng
from .semantic import semantic_map

SPLITS = ('train', 'val')

# Relative path templates of every file kind ({split}, {id} = image id).
LAYOUT = dict(
    images='img_dir/{split}/{id:06d}.jpg',
    semantic='ann_dir/{split}/{id:06d}.png',
    instances='annotations/instances_{split}.json',
    panoptic='annotations/panoptic_{split}.json',
    panoptic_png='annotations/panoptic_{split}/{id:06d}.png',
    lvis='annotations/lvis_v1_{split}.json',
    classification='classification/{split}/{class_name}/{k:05d}.png',
    classification_list='classification/meta/{split}.txt',
)

Tick = Callable[[int], None]


@dataclass
class SplitRecords:
    """JSON entries collected while one split is rendered."""

    images: List[Dict] = field(default_factory=list)
    instances: List[Dict] = field(default_factory=list)
    panoptic: List[Dict] = field(default_factory=list)
    lvis_images: List[Dict] = field(default_factory=list)
    lvis_instances: List[Dict] = field(default_factory=list)
    stuff_images: List[int] = field(
        default_factory=lambda: [0] * len(STUFF_CLASSES))


def first_image_id(preset: ShapesPreset, split: str) -> int:
    """Image ids are unique across splits: train 1..N, val N+1..N+M."""
    return 1 if split == 'train' else preset.num_train + 1


def num_scenes(preset: ShapesPreset, split: str) -> int:
    """Scenes in ``split``."""
    return preset.num_train if split == 'train' else preset.num_val


def _render_one(out: str, split: str, index: int, preset: ShapesPreset,
                seed: int, labels: Optional[Sequence[int]],
                records: SplitRecords, long_tail: bool) -> None:
    """Render scene ``index`` of ``split``, write its files, record JSON."""
    rng = stream_rng(seed, f'scene/{split}', index)
    if labels is not None:
        labels = rng.permutation(np.asarray(labels, np.int64))
    scene = render_scene(preset, rng, labels, index)
    image_id = first_image_id(preset, split) + index
    ids = dict(split=split, id=image_id)
    h, w = scene.image.shape[:2]
    write_jpeg(osp.join(out, LAYOUT['images'].format(**ids)), scene.image)
    write_png_gray(osp.join(out, LAYOUT['semantic'].format(**ids)),
                   semantic_map(scene))
    id_map, segments = panoptic_segments(scene)
    write_png_rgb(osp.join(out, LAYOUT['panoptic_png'].format(**ids)),
                  id2rgb(id_map))

    first_ann = len(records.instances) + 1
    file_name = f'{image_id:06d}.jpg'
    records.images.append(image_entry(image_id, file_name, h, w))
    records.instances += instance_annotations(scene, image_id, first_ann)
    records.panoptic.append(
        panoptic_annotation(image_id, f'{image_id:06d}.png', segments))
    for seg in segments:
        if seg['category_id'] > len(THING_CLASSES):
            stuff = seg['category_id'] - stuff_category_id(0)
            records.stuff_images[stuff] += 1
    if long_tail:
        present = [pose.label for pose in scene.objects]
        records.lvis_images.append(
            lvis_image_entry(image_id, split, file_name, h, w, present))
        records.lvis_instances += lvis_annotations(scene, image_id,
                                                   first_ann)


def _render_split(out: str, split: str, preset: ShapesPreset, seed: int,
                  long_tail: bool, tick: Tick) -> SplitRecords:
    """Render every scene of ``split`` (long-tail plan on train only)."""
    plan = None
    if long_tail and split == 'train':
        plan = plan_long_tail(preset, seed)
    records = SplitRecords()
    for index in range(num_scenes(preset, split)):
        labels = None if plan is None else plan[index]
        _render_one(out, split, index, preset, seed, labels, records,
                    long_tail)
        tick(1)
    return records


def _class_counts(annotations: Sequence[Dict]) -> Dict[str, Dict[str, int]]:
    """Per thing class: images containing it and instances."""
    images = {name: set() for name in THING_CLASSES}
    instances = {name: 0 for name in THING_CLASSES}
    for ann in annotations:
        name = THING_CLASSES[ann['category_id'] - 1]
        images[name].add(ann['image_id'])
        instances[name] += 1
    return dict(images={k: len(v) for k, v in images.items()},
                instances=instances)


def _write_split_jsons(out: str, split: str, records: SplitRecords,
                       lvis_cats: Optional[List[Dict]]) -> None:
    """Write the instances, panoptic (and LVIS) files of one split."""

    def path(kind: str) -> str:
        return osp.join(out, LAYOUT[kind].format(split=split))

    dump_json(path('instances'), coco_json(records.images, records.instances))
    dump_json(path('panoptic'), panoptic_json(records.images,
                                              records.panoptic))
    if lvis_cats is not None:
        dump_json(path('lvis'), lvis_json(records.lvis_images,
                                          records.lvis_instances, lvis_cats))


def _meta(preset: ShapesPreset, seed: int, long_tail: bool,
          records: Dict[str, SplitRecords],
          crops: Dict[str, Dict[str, int]]) -> Dict:
    """The content of ``meta.json`` (no absolute paths: byte-stable)."""
    counts = dict(images={}, instances={}, class_images={},
                  class_instances={}, stuff_images={}, classification=crops)
    for split, rec in records.items():
        per_class = _class_counts(rec.instances)
        counts['images'][split] = len(rec.images)
        counts['instances'][split] = len(rec.instances)
        counts['class_images'][split] = per_class['images']
        counts['class_instances'][split] = per_class['instances']
        counts['stuff_images'][split] = dict(zip(STUFF_CLASSES,
                                                 rec.stuff_images))
    files = {kind: {s: LAYOUT[kind].format(split=s) for s in SPLITS}
             for kind in ('instances', 'panoptic', 'classification_list')}
    meta = dict(generator=GENERATOR_NAME, version=GENERATOR_VERSION,
                preset=preset.name, seed=seed, long_tail=long_tail,
                preset_params=preset.to_dict(), classes=class_tables(),
                counts=counts, layout=LAYOUT, files=files, lvis=None)
    if long_tail:
        files['lvis'] = {s: LAYOUT['lvis'].format(split=s) for s in SPLITS}
        train_images = counts['class_images']['train']
        meta['lvis'] = dict(
            thresholds=list(preset.lvis_thresholds),
            rule='r: image_count <= thresholds[0]; c: <= thresholds[1]; '
                 'f: otherwise (image_count = train images with the class)',
            frequency={name: lvis_frequency(train_images[name],
                                            preset.lvis_thresholds)
                       for name in THING_CLASSES},
            data_prefix=dict(img='img_dir/'))
    return meta


def _generate_into(out: str, preset: ShapesPreset, seed: int,
                   long_tail: bool, progress: bool) -> Dict:
    """Write every file of one output into ``out`` (an empty directory)."""
    from tqdm import tqdm
    total = (preset.num_train + preset.num_val) + len(THING_CLASSES) * (
        preset.crops_train + preset.crops_val)
    with tqdm(total=total, disable=not progress, unit='img',
              desc=f'Shapes {preset.name}', mininterval=1.0) as bar:
        records = {split: _render_split(out, split, preset, seed, long_tail,
                                        bar.update) for split in SPLITS}
        lvis_cats = None
        if long_tail:
            lvis_cats = lvis_categories(records['train'].lvis_instances,
                                        preset.lvis_thresholds)
        for split in SPLITS:
            _write_split_jsons(out, split, records[split], lvis_cats)
        crop_root = osp.join(out, 'classification')
        crops = {split: write_crops(crop_root, split, count, preset, seed,
                                    bar.update)
                 for split, count in (('train', preset.crops_train),
                                      ('val', preset.crops_val))}
    meta = _meta(preset, seed, long_tail, records, crops)
    dump_json(osp.join(out, output.META_FILE), meta, indent=1)
    return meta


def read_meta(out_dir: str) -> Optional[Dict]:
    """``meta.json`` of a Shapes output, or ``None`` if ``out_dir`` is not
    one (no file, unreadable, or written by another generator)."""
    return output.read_meta(out_dir, GENERATOR_NAME)


def check_out_dir(out_dir: str) -> None:
    """Refuse an output path that would lose someone's data.

    Raises:
        ValueError: ``out_dir`` is an existing file, or a non-empty
            directory that is not a previous Shapes output. The message
            starts with ``out:`` and says how to fix it.
    """
    output.check_out_dir(out_dir, GENERATOR_NAME, 'Shapes')


def generate_shapes(preset: str, out_dir: str, seed: int = 0,
                    long_tail: bool = False, progress: bool = False) -> Dict:
    """Generate a Shapes output directory.

    Args:
        preset: Name of a preset in :data:`~.presets.PRESETS`.
        out_dir: Output directory: must not exist, be empty, or hold a
            previous Shapes output (which is replaced).
        seed: Non-negative global seed; same arguments give the same bytes.
        long_tail: Zipf class frequencies on train and LVIS v1 files.
        progress: Show a tqdm progress bar.

    Returns:
        The ``meta.json`` content (preset, seed, class lists, counts,
        relative file layout) plus ``out_dir`` (absolute).

    Raises:
        ValueError: Unknown preset, negative seed or unusable ``out_dir``;
            the message names the argument.
    """
    spec = get_preset(preset)
    seed = output.check_seed(seed)
    return output.write_output(
        out_dir, GENERATOR_NAME, 'Shapes', lambda tmp: _generate_into(
            tmp, spec, seed, bool(long_tail), progress))
