"""Tests of tools/misc/crop_objects.py (COCO objects -> class folders).

A hand-made COCO set (images drawn with numpy: solid rectangles at known
boxes, category ids 90 and 1 with id 90 listed first, a name with a space,
a crowd annotation, a tiny object, a box outside the image, an image without
annotations) and the tiny Shapes set are cropped through the tool's
``main(argv)``; the results are checked against the drawn colours, a numpy
bilinear resampling of the drawn images, pycocotools' counts, mmdet's
``CocoDataset`` label mapping and mmpretrain's ``CustomDataset`` loading
``meta.txt``. The Shapes run goes through a subprocess, the way users run
the tool.
"""
import json
import os.path as osp
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO

from mmext.testing.tools import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SIZE = 32
BACKGROUND_A = (50, 50, 50)
BACKGROUND_B = (255, 255, 255)
RED, BLUE = (255, 0, 0), (0, 0, 255)
GREEN, YELLOW = (0, 200, 0), (255, 255, 0)
# Category 90 first: it gets label 0; 'airplane' has no objects.
CATEGORIES = [
    dict(id=90, name='traffic light', supercategory='outdoor'),
    dict(id=1, name='person', supercategory='person'),
    dict(id=5, name='airplane', supercategory='vehicle'),
]
LABEL = {'traffic light': 0, 'person': 1, 'airplane': 2}


@pytest.fixture(scope='module')
def tool():
    return load_tool('misc/crop_objects.py')


def _draw(path, size_wh, background, rects):
    """Save an RGB PNG of ``background`` with solid ``(x, y, w, h, colour)``
    rectangles (integer pixels)."""
    width, height = size_wh
    img = np.empty((height, width, 3), np.uint8)
    img[:] = background
    for x, y, w, h, colour in rects:
        img[y:y + h, x:x + w] = colour
    Image.fromarray(img).save(path)


def _ann(ann_id, image_id, category_id, bbox, iscrowd=0):
    return dict(id=ann_id, image_id=image_id, category_id=category_id,
                bbox=bbox, area=bbox[2] * bbox[3], iscrowd=iscrowd,
                segmentation=[[bbox[0], bbox[1], bbox[0] + bbox[2], bbox[1],
                               bbox[0] + bbox[2], bbox[1] + bbox[3]]])


@pytest.fixture
def handmade(tmp_path):
    """``(ann_file, img_dir, expected)``; ``expected`` maps annotation id to
    ``(class name, colour)`` of every crop the tool must write."""
    img_dir = tmp_path / 'images'
    img_dir.mkdir()
    _draw(img_dir / 'a.png', (64, 48), BACKGROUND_A,
          [(10, 8, 20, 16, RED), (40, 30, 3, 6, BLUE)])
    _draw(img_dir / 'b.png', (40, 40), BACKGROUND_B,
          [(5, 5, 20, 24, GREEN), (30, 30, 10, 10, YELLOW)])
    _draw(img_dir / 'c.png', (16, 16), BACKGROUND_B, [])
    images = [
        dict(id=7, file_name='a.png', width=64, height=48),
        dict(id=8, file_name='b.png', width=40, height=40),
        dict(id=9, file_name='c.png', width=16, height=16),  # no objects
    ]
    annotations = [
        _ann(11, 7, 90, [10, 8, 20, 16]),  # red, exactly its pixels
        _ann(12, 7, 1, [40, 30, 3, 6]),  # blue, 3 px wide
        _ann(13, 7, 1, [0, 0, 64, 48], iscrowd=1),
        _ann(21, 8, 1, [5.5, 5.25, 19, 23.5]),  # green, sub-pixel inside
        _ann(22, 8, 90, [30, 30, 20, 20]),  # yellow, clipped to 10 x 10
        _ann(23, 8, 1, [45, 10, 5, 5]),  # wholly outside the image
    ]
    ann_file = tmp_path / 'instances.json'
    ann_file.write_text(
        json.dumps(dict(images=images, annotations=annotations,
                        categories=CATEGORIES)))
    expected = {
        11: ('traffic light', RED, (10, 8, 30, 24)),
        12: ('person', BLUE, (40, 30, 43, 36)),
        21: ('person', GREEN, (5.5, 5.25, 24.5, 28.75)),
        22: ('traffic light', YELLOW, (30, 30, 40, 40)),
    }
    return str(ann_file), str(img_dir), expected


def _meta(out):
    """``[(relative path, label)]`` of ``out/meta.txt``, parsed the way
    mmpretrain does (split at the last space)."""
    with open(osp.join(out, 'meta.txt'), encoding='utf-8') as f:
        return [(path, int(label))
                for path, label in (line.rstrip('\n').rsplit(' ', 1)
                                    for line in f)]


def _classes(out):
    with open(osp.join(out, 'classes.txt'), encoding='utf-8') as f:
        return f.read().splitlines()


def _ann_id(path):
    """The annotation id in ``<class>/<stem>_<ann id>.png``."""
    return int(osp.splitext(path)[0].rsplit('_', 1)[1])


def _image_array(path):
    with Image.open(path) as img:
        assert img.mode == 'RGB'
        return np.asarray(img).astype(float)


def _crop_array(out, path):
    return _image_array(osp.join(out, path))


def _bilinear_reference(image, box, size):
    """``box`` (x1, y1, x2, y2) of an ``(H, W, 3)`` image resampled to
    ``size x size`` by bilinear interpolation (for upsampling only)."""
    x1, y1, x2, y2 = box
    assert x2 - x1 <= size and y2 - y1 <= size

    def taps(lo, hi, n):
        # Output pixel i samples at lo + (i + 0.5) * step in continuous
        # coordinates, i.e. at that minus 0.5 in pixel-centre indices.
        u = lo + (np.arange(size) + 0.5) * (hi - lo) / size - 0.5
        u = np.clip(u, 0, n - 1)
        i0 = np.floor(u).astype(int)
        return i0, np.minimum(i0 + 1, n - 1), u - i0

    height, width = image.shape[:2]
    r0, r1, fy = taps(y1, y2, height)
    c0, c1, fx = taps(x1, x2, width)
    fy, fx = fy[:, None, None], fx[None, :, None]
    top = image[r0][:, c0] * (1 - fx) + image[r0][:, c1] * fx
    bottom = image[r1][:, c0] * (1 - fx) + image[r1][:, c1] * fx
    return top * (1 - fy) + bottom * fy


def test_handmade_crops_colours_labels_and_skips(tool, handmade, tmp_path,
                                                 capsys):
    ann_file, img_dir, expected = handmade
    out = str(tmp_path / 'out')
    assert tool.main([ann_file, img_dir, out, '--size', str(SIZE)]) == 0
    printed = capsys.readouterr().out

    assert _classes(out) == [c['name'] for c in CATEGORIES]
    meta = _meta(out)
    assert sorted(_ann_id(path) for path, _ in meta) == sorted(expected)
    for path, label in meta:
        name, colour, box = expected[_ann_id(path)]
        stem = {1: 'a', 2: 'b'}[_ann_id(path) // 10]
        assert path == f'{name}/{stem}_{_ann_id(path)}.png'
        assert label == LABEL[name]
        crop = _crop_array(out, path)
        assert crop.shape == (SIZE, SIZE, 3)
        # Against bilinear interpolation of the drawn image (pixel centres
        # at k + 0.5, edges clamped), computed here with numpy.
        image = _image_array(osp.join(img_dir, f'{stem}.png'))
        reference = _bilinear_reference(image, box, SIZE)
        assert np.abs(crop - reference).max() <= 2, path
        # The middle half of the crop samples the rectangle only.
        middle = crop[SIZE // 4:-SIZE // 4, SIZE // 4:-SIZE // 4]
        assert np.abs(middle - colour).max() <= 2, path
        if _ann_id(path) == 21:  # a sub-pixel box inside the rectangle
            assert np.abs(crop - colour).max() <= 2

    # Per class: pycocotools' non-crowd annotations minus the box that
    # lies outside its image (id 23, a person).
    coco = COCO(ann_file)
    kept = Counter(label for _, label in meta)
    for cat in CATEGORIES:
        n_ann = len(coco.getAnnIds(catIds=[cat['id']], iscrowd=False))
        outside = 1 if cat['name'] == 'person' else 0
        assert kept[LABEL[cat['name']]] == n_ann - outside
    assert osp.isdir(osp.join(out, 'airplane'))
    assert 'iscrowd=1: 1' in printed
    assert 'empty box after clipping: 1' in printed
    assert 'smaller than --min-size: 0' in printed


def test_min_size_skips_exactly_the_small_object(tool, handmade, tmp_path,
                                                 capsys):
    ann_file, img_dir, expected = handmade
    out = str(tmp_path / 'out')
    # The blue object is 3 x 6; the smallest other kept box is 10 x 10.
    assert tool.main([ann_file, img_dir, out, '--size', '8',
                      '--min-size', '4']) == 0
    assert 'smaller than --min-size: 1' in capsys.readouterr().out
    ids = sorted(_ann_id(path) for path, _ in _meta(out))
    assert ids == sorted(set(expected) - {12})
    assert _crop_array(out, _meta(out)[0][0]).shape == (8, 8, 3)


def test_labels_follow_mmdet_coco_dataset(tool, handmade, tmp_path):
    """mmdet's CocoDataset, given classes.txt as its classes, maps each
    category id to the label the tool wrote."""
    from mmdet.datasets import CocoDataset
    ann_file, img_dir, _ = handmade
    out = str(tmp_path / 'out')
    assert tool.main([ann_file, img_dir, out, '--size', '8']) == 0
    det = CocoDataset(ann_file=ann_file, data_prefix=dict(img=img_dir),
                      metainfo=dict(classes=tuple(_classes(out))),
                      test_mode=True, pipeline=[])
    assert det.cat2label == {90: 0, 1: 1, 5: 2}
    coco = COCO(ann_file)
    for path, label in _meta(out):
        assert det.cat2label[coco.anns[_ann_id(path)]['category_id']] == \
            label


def test_mmpretrain_custom_dataset_loads_meta(tool, handmade, tmp_path):
    from mmpretrain.datasets import CustomDataset
    ann_file, img_dir, expected = handmade
    out = str(tmp_path / 'out')
    assert tool.main([ann_file, img_dir, out, '--size', '8']) == 0
    dataset = CustomDataset(data_root=out, ann_file='meta.txt',
                            data_prefix='',
                            metainfo=dict(classes=_classes(out)),
                            pipeline=[])
    assert len(dataset) == len(expected)
    assert list(dataset.metainfo['classes']) == [c['name']
                                                 for c in CATEGORIES]
    seen = set()
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        ann_id = _ann_id(info['img_path'])
        name = expected[ann_id][0]
        seen.add(ann_id)
        assert info['gt_label'] == LABEL[name]
        # The folder keeps the space of 'traffic light'.
        assert osp.dirname(info['img_path']) == osp.join(out, name)
        assert osp.isfile(info['img_path'])
    assert seen == set(expected)


def test_missing_image_exits_2_and_writes_nothing(tool, handmade, tmp_path,
                                                  capsys):
    ann_file, img_dir, _ = handmade
    (tmp_path / 'images' / 'b.png').unlink()
    out = tmp_path / 'out'
    assert tool.main([ann_file, img_dir, str(out)]) == 2
    err = capsys.readouterr().err
    assert "'b.png'" in err and 'IMG_DIR' in err and 'a.png' not in err
    assert not (out / 'meta.txt').exists()
    assert not out.exists()


def test_bad_arguments_and_categories_exit_2(tool, handmade, tmp_path,
                                             capsys):
    ann_file, img_dir, _ = handmade
    out = str(tmp_path / 'out')
    cases = [
        ([ann_file, img_dir, out, '--size', '0'], '--size'),
        ([str(tmp_path / 'nope.json'), img_dir, out], 'ANN_FILE'),
        ([ann_file, str(tmp_path / 'nope'), out], 'IMG_DIR'),
    ]
    for argv, named in cases:
        with pytest.raises(SystemExit) as exc:
            tool.main(argv)
        assert exc.value.code == 2
        assert f'argument {named}' in capsys.readouterr().err
    data = json.loads(open(ann_file).read())
    data['categories'][1]['name'] = 'person/rider'
    with open(ann_file, 'w') as f:
        json.dump(data, f)
    assert tool.main([ann_file, img_dir, out]) == 2
    err = capsys.readouterr().err
    assert 'category id 1' in err and "'person/rider'" in err
    assert not osp.exists(out)


def test_shapes_tiny_every_object_with_its_category(shapes_tiny, tmp_path):
    """The tiny Shapes train split, run as users run the tool."""
    ann_file = osp.join(shapes_tiny, 'annotations', 'instances_train.json')
    img_dir = osp.join(shapes_tiny, 'img_dir', 'train')
    out = str(tmp_path / 'out')
    proc = subprocess.run(
        [sys.executable, 'tools/misc/crop_objects.py', ann_file, img_dir,
         out, '--size', '16'],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]

    coco = COCO(ann_file)
    cat_ids = [c['id'] for c in coco.dataset['categories']]
    names = [c['name'] for c in coco.dataset['categories']]
    assert _classes(out) == names
    meta = _meta(out)
    assert len(meta) == len(coco.getAnnIds(iscrowd=False)) > 0
    for path, label in meta:
        ann = coco.anns[_ann_id(path)]
        assert label == cat_ids.index(ann['category_id'])
        stem = osp.splitext(coco.imgs[ann['image_id']]['file_name'])[0]
        assert path == f'{names[label]}/{stem}_{ann["id"]}.png'
        assert _crop_array(out, path).shape == (16, 16, 3)
    kept = Counter(label for _, label in meta)
    for label, cat_id in enumerate(cat_ids):
        assert kept[label] == len(coco.getAnnIds(catIds=[cat_id],
                                                 iscrowd=False))
