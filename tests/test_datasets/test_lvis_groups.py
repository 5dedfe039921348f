"""RIO's memory classes: rare ones and common ones with few images, in
mmdet's LVIS label order; a Shapes long-tail annotation file works."""
import json

import pytest

from mmext.datasets.lvis_groups import (rio_memory_classes,
                                        rio_memory_classes_from_file)

CATEGORIES = [
    dict(id=9, name='i', frequency='r', image_count=3),
    dict(id=2, name='b', frequency='f', image_count=900),
    dict(id=5, name='e', frequency='c', image_count=30),
    dict(id=7, name='g', frequency='c', image_count=31),
    dict(id=1, name='a', frequency='r', image_count=1),
]


def test_rare_and_small_common_classes_in_label_order():
    # Sorted ids 1, 2, 5, 7, 9 -> labels 0..4.
    assert rio_memory_classes(CATEGORIES) == [0, 2, 4]
    assert rio_memory_classes(CATEGORIES, common_max_images=100) == [0, 2, 3,
                                                                     4]
    with pytest.raises(ValueError, match='image_count'):
        rio_memory_classes([dict(id=1, frequency='r')])


def test_from_an_annotation_file(tmp_path):
    path = tmp_path / 'lvis.json'
    path.write_text(json.dumps(dict(categories=CATEGORIES)))
    assert rio_memory_classes_from_file(str(path)) == [0, 2, 4]
    path.write_text(json.dumps(dict(images=[])))
    with pytest.raises(ValueError, match='categories'):
        rio_memory_classes_from_file(str(path))
