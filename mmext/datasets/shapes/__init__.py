"""Shapes: a deterministic procedural data suite in real on-disk formats.

Scenes are 1-3 textured "stuff" regions (sky, grass, water, wall) with
irregular boundaries, and "thing" objects (circle, square, triangle,
pentagon, hexagon, star, cross, ring) of random size, rotation, position and
flat random colour drawn on top, later objects occluding earlier ones. The
same scenes are written as COCO instances, COCO panoptic, mmseg semantic
maps and (long-tail mode) LVIS v1, plus ImageNet-style classification
crops. Only numpy and cv2 are used; every image draws from its own random
stream derived from ``(seed, stream, index)``, so the same arguments give
the same bytes. See ``docs/shapes.md``.

Output layout (``image_id``: train ``1..N``, val ``N+1..N+M``)::

    OUT/
      meta.json                          preset, seed, long_tail, generator
                                         version, class lists, counts
      img_dir/{train,val}/{image_id:06d}.jpg       RGB scenes, JPEG q95
      ann_dir/{train,val}/{image_id:06d}.png       uint8 semantic maps:
                                         SEMANTIC_CLASSES index (things 0-7,
                                         stuff 8-11); 255 = ignore (unused)
      annotations/
        instances_{train,val}.json       COCO instances (ids 1-8); polygons,
                                         or compressed RLE if a mask has holes
        panoptic_{train,val}.json        COCO panoptic (things 1-8, stuff
                                         9-12; one segment per stuff class)
        panoptic_{train,val}/{image_id:06d}.png    id = R + 256 G + 256^2 B
        lvis_v1_{train,val}.json         --long-tail only: LVIS v1, polygons,
                                         r/c/f groups from train image counts
      classification/
        {train,val}/{class_name}/{k:05d}.png       one centred object per crop
        meta/{train,val}.txt             "{class_name}/{k:05d}.png {label}"

Loading with the stock classes (``data_root=OUT``):

* mmdet ``CocoDataset``: ``ann_file='annotations/instances_train.json'``,
  ``data_prefix=dict(img='img_dir/train/')``,
  ``metainfo=det_metainfo()``;
* mmdet ``LVISV1Dataset``: ``ann_file='annotations/lvis_v1_train.json'``,
  ``data_prefix=dict(img='img_dir/')`` (``coco_url`` ends in
  ``<split>/<id>.jpg``);
* mmseg ``BaseSegDataset``: ``img_suffix='.jpg'``, ``seg_map_suffix='.png'``,
  ``data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train')``,
  ``metainfo=seg_metainfo()``.

This package is not imported by ``mmext.datasets``; import it as
``mmext.datasets.shapes``.
"""
from .classes import (IGNORE_INDEX, SEMANTIC_CLASSES, SEMANTIC_PALETTE,
                      STUFF_CLASSES, STUFF_PALETTE, THING_CLASSES,
                      THING_PALETTE, coco_categories, det_metainfo,
                      panoptic_categories, panoptic_metainfo, seg_metainfo,
                      stuff_category_id, stuff_semantic_index,
                      thing_category_id, thing_semantic_index)
from .generate import LAYOUT, check_out_dir, generate_shapes, read_meta
from .lvis import lvis_frequency, zipf_image_counts
from .presets import (GENERATOR_NAME, GENERATOR_VERSION, PRESETS,
                      ShapesPreset, get_preset)

__all__ = [
    'generate_shapes', 'check_out_dir', 'read_meta', 'LAYOUT', 'PRESETS',
    'ShapesPreset', 'get_preset', 'GENERATOR_NAME', 'GENERATOR_VERSION',
    'THING_CLASSES', 'STUFF_CLASSES', 'SEMANTIC_CLASSES', 'THING_PALETTE',
    'STUFF_PALETTE', 'SEMANTIC_PALETTE', 'IGNORE_INDEX', 'coco_categories',
    'panoptic_categories', 'det_metainfo', 'seg_metainfo',
    'panoptic_metainfo', 'thing_category_id', 'stuff_category_id',
    'thing_semantic_index', 'stuff_semantic_index', 'lvis_frequency',
    'zipf_image_counts'
]
