"""The MVS depth figure: one row per view with image, depth, ground truth
(one colour scale, invalid black), confidence and error; it survives
views without ground truth; tools/mvs/visualize_depths.py runs a
CVP-MVSNet on tiny Shapes-MVS test views and writes it."""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch

from mmext.testing.tools import REPO, load_tool
from mmext.visualization.mvs_depths import (depth_color_range,
                                            plot_depth_views)

H, W = 12, 16


def views(num=2, seed=0):
    rng = np.random.default_rng(seed)
    images = [rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
              for _ in range(num)]
    gts = [rng.uniform(500, 600, (H, W)) for _ in range(num)]
    for gt in gts:
        gt[:3] = 0  # invalid rows
    depths = [gt + rng.normal(0, 2, (H, W)) for gt in gts]
    confidences = [rng.uniform(0, 1, (H, W)) for _ in range(num)]
    return images, depths, gts, confidences


def panels(fig):
    return [ax for ax in fig.axes if ax.get_label() != '<colorbar>']


@pytest.mark.parametrize('show_error, columns', [(True, 5), (False, 4)])
def test_one_row_per_view_written_as_png(tmp_path, show_error, columns):
    images, depths, gts, confidences = views(3)
    path = str(tmp_path / 'depths.png')
    fig = plot_depth_views(images, depths, gts, confidences,
                           titles=['a', 'b', 'c'], show_error=show_error,
                           path=path)
    axes = panels(fig)
    assert len(axes) == 3 * columns
    assert [ax.get_title() for ax in axes[:columns]] == [
        'image', 'depth', 'ground truth', 'confidence', '|depth - gt|'
    ][:columns]
    assert [axes[r * columns].get_ylabel() for r in range(3)] == [
        'a', 'b', 'c']
    picture = cv2.imread(path)
    assert picture is not None and picture.shape[1] > picture.shape[0]


def test_depth_and_ground_truth_share_a_scale_and_invalid_is_black():
    images, depths, gts, confidences = views(1)
    depths[0][5, 5] = 0  # no prediction there
    fig = plot_depth_views(images, depths, gts, confidences)
    image, depth, gt, conf, error = (ax.get_images()[0]
                                     for ax in panels(fig))
    valid = gts[0] > 0
    assert depth.get_clim() == gt.get_clim() == (gts[0][valid].min(),
                                                 gts[0][valid].max())
    assert conf.get_clim() == (0, 1)
    for shown in (depth, gt, error):
        assert shown.get_cmap().get_bad()[:3] == pytest.approx((0, 0, 0))
    np.testing.assert_array_equal(np.ma.getmaskarray(gt.get_array()),
                                  ~valid)
    assert np.ma.getmaskarray(depth.get_array())[5, 5]
    # the error covers the pixels with both a depth and a ground truth
    both = valid & (depths[0] > 0)
    assert valid[5, 5] and not both[5, 5]
    np.testing.assert_array_equal(np.ma.getmaskarray(error.get_array()),
                                  ~both)
    np.testing.assert_allclose(
        error.get_array()[both], np.abs(depths[0] - gts[0])[both])
    assert np.array_equal(image.get_array(), images[0])


def test_views_without_ground_truth_do_not_crash(tmp_path):
    images, depths, gts, confidences = views(3)
    gts[1] = np.zeros((H, W))  # all invalid
    gts[2] = None  # none at all
    fig = plot_depth_views(images, depths, gts, confidences,
                           path=str(tmp_path / 'x.png'))
    axes = panels(fig)
    assert len(axes) == 15 and osp.isfile(str(tmp_path / 'x.png'))
    for row in (1, 2):
        depth, gt, error = (axes[row * 5 + c].get_images()[0]
                            for c in (1, 2, 4))
        assert np.ma.getmaskarray(gt.get_array()).all()
        assert np.ma.getmaskarray(error.get_array()).all()
        # The scale comes from the prediction's valid (positive) depths.
        valid = depths[row][depths[row] > 0]
        assert depth.get_clim() == (valid.min(), valid.max())
        assert axes[row * 5 + 2].get_title() == 'ground truth (none)'
    fig = plot_depth_views(images[:1], depths[:1], None, confidences[:1])
    assert len(panels(fig)) == 5


def test_depth_color_range():
    gt = np.array([[0.0, 2.0], [3.0, np.nan]])
    assert depth_color_range(np.array([[1.0, 9.0]]), gt) == (2.0, 3.0)
    assert depth_color_range(np.array([[1.0, 9.0]]), np.zeros((1, 2))) == (
        1.0, 9.0)
    assert depth_color_range(np.full((2, 2), 4.0)) == (3.5, 4.5)
    assert depth_color_range(np.zeros((2, 2)), None) == (0.0, 1.0)


def test_bad_input_names_the_argument():
    images, depths, gts, confidences = views(2)
    with pytest.raises(ValueError, match='one entry per view'):
        plot_depth_views(images, depths[:1], gts, confidences)
    with pytest.raises(ValueError, match=r'depths\[1\]: expected an \[H, W'):
        plot_depth_views(images, [depths[0], depths[1][:4]], gts,
                         confidences)
    with pytest.raises(ValueError, match=r'images\[0\]'):
        plot_depth_views([images[0][..., 0], images[1]], depths, gts,
                         confidences)
    with pytest.raises(ValueError, match='no view'):
        plot_depth_views([], [], [], [])


# ---------------------------------------------------------------- the tool
TEST_CONFIG = osp.join(REPO, 'configs', 'cvp_mvsnet',
                       'cvp-mvsnet_3l-nsrc4_1xb4-1600it_shapes-mvs-128x160.py')


@pytest.fixture(scope='module')
def shapes_mvs_test(shapes_mvs_tiny) -> str:
    """The tiny Shapes-MVS test root (scan3: 5 views of 64x80)."""
    return osp.join(shapes_mvs_tiny, 'test')


@pytest.fixture(scope='module')
def tool_args(shapes_mvs_test, tmp_path_factory):
    """The config, an initial-weights checkpoint and ``--cfg-options`` for
    the tiny test root."""
    from mmext.apis import init_model
    options = [
        'model.num_initial_planes=8',
        f'test_dataloader.dataset.data_root={shapes_mvs_test}'
    ]
    torch.manual_seed(0)
    model = init_model(TEST_CONFIG, cfg_options={'model.num_initial_planes':
                                                 8})
    checkpoint = str(tmp_path_factory.mktemp('ckpt') / 'model.pth')
    torch.save({'state_dict': model.state_dict()}, checkpoint)
    return [TEST_CONFIG, checkpoint, '--device', 'cpu', '--cfg-options',
            *options]


@pytest.fixture(scope='module')
def visualize_tool():
    return load_tool('mvs/visualize_depths.py')


def test_visualize_tool_writes_the_figure(tmp_path, tool_args,
                                          visualize_tool, capsys,
                                          one_torch_thread):
    out = str(tmp_path / 'depths.png')
    assert visualize_tool.main([*tool_args[:2], '--out', out, '--views',
                                '3', '1', *tool_args[2:]]) == 0
    assert 'scan3 views [3, 1] -> ' + out in capsys.readouterr().out
    picture = cv2.imread(out)
    assert picture is not None and picture.shape[0] > 100


def test_visualize_tool_rows_are_the_chosen_views(tool_args,
                                                  visualize_tool, tmp_path,
                                                  one_torch_thread):
    from mmext.apis.inference import init_model_and_test_dataset
    from mmext.mvs.predict import select_indices
    args = visualize_tool.parse_args(
        [*tool_args[:2], '--out', str(tmp_path / 'x.png'), '--views', '4',
         '0', *tool_args[2:]])
    model, dataset = init_model_and_test_dataset(
        args.config, args.checkpoint, args.device, args.cfg_options)
    scan, chosen, indices = select_indices(dataset, None, [4, 0])
    assert scan == 'scan3' and chosen == [4, 0]
    assert [dataset[i]['meta']['view'] for i in indices] == [4, 0]
    fig = visualize_tool.run(model, dataset, args)
    axes = [ax for ax in fig.axes if ax.get_label() != '<colorbar>']
    assert len(axes) == 2 * 5
    assert [axes[0].get_ylabel(), axes[5].get_ylabel()] == [
        'scan3 view 4', 'scan3 view 0']
    # The ground-truth panels show the dataset's depth maps.
    for row, index in enumerate(indices):
        gt = dataset[index]['depths'][0].numpy()
        shown = axes[row * 5 + 2].get_images()[0].get_array()
        np.testing.assert_array_equal(np.ma.getmaskarray(shown), gt <= 0)
        np.testing.assert_allclose(shown[gt > 0], gt[gt > 0])


def test_visualize_tool_errors_name_the_choices(tool_args, visualize_tool,
                                                tmp_path, capsys):
    out = str(tmp_path / 'x.png')
    assert visualize_tool.main([*tool_args[:2], '--out', out, '--scan',
                                'scan9', *tool_args[2:]]) == 1
    assert "--scan: 'scan9' is not in the dataset" in capsys.readouterr().err
    assert visualize_tool.main([*tool_args[:2], '--out', out, '--views',
                                '7', *tool_args[2:]]) == 1
    assert '--views: [7]' in capsys.readouterr().err
    assert not osp.exists(out)
