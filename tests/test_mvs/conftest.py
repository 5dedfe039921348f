"""Fixtures of the MVS tests: the exact synthetic scene of
:mod:`mmext.testing.mvs_scene` (a tilted plane seen by five cameras), a
data set of it in ``mmext.DTUMVSDataset``'s item format, and a perfect
"network" that predicts the plane's exact depth (as a plain module and as
an MMEngine ``BaseModel``), so that the prediction-and-fusion pipeline is
tested without a trained model."""
from typing import Dict

import numpy as np
import pytest
import torch
from mmengine.model import BaseModel

from mmext.testing.mvs_scene import make_scene, plane_depth
from mmext.testing.mvs_scene import scene_pairs as _pairs


@pytest.fixture
def plane_scene() -> Dict[int, dict]:
    """``{view: dict(depth, image, intrinsic, extrinsic)}`` of five views."""
    return make_scene()


@pytest.fixture
def scene_pairs() -> Dict[int, list]:
    """Every other view as a source, nearest azimuth first."""
    return _pairs()


class PlaneDataset:
    """Items as ``mmext.DTUMVSDataset`` gives them (``imgs`` [V, 3, H, W]
    in [0, 1], float32 cameras, ``meta``), for scans of the plane scene:
    every view is a reference with its two nearest views as sources.
    ``order`` lists the ``(scan, view)`` of the items."""

    def __init__(self, scans=('scan1', 'scan12'), order=None):
        self.scene = make_scene()
        self.scans = list(scans)
        self.pairs = {ref: [(src, 1.0 / (1 + i)) for i, src in
                            enumerate(srcs)]
                      for ref, srcs in _pairs().items()}
        self.order = order or [(scan, view) for scan in self.scans
                               for view in sorted(self.scene)]

    def __len__(self):
        return len(self.order)

    def __getitem__(self, index):
        scan, ref = self.order[index]
        views = [ref] + [src for src, _ in self.pairs[ref][:2]]
        imgs = np.stack([self.scene[v]['image'] for v in views])
        return dict(
            imgs=torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 255,
            intrinsics=torch.tensor(
                np.stack([self.scene[v]['intrinsic'] for v in views]),
                dtype=torch.float32),
            extrinsics=torch.tensor(
                np.stack([self.scene[v]['extrinsic'] for v in views]),
                dtype=torch.float32),
            depth_min=300.0,
            depth_max=800.0,
            meta=dict(scan=scan, view=ref, light=3,
                      src_views=views[1:]))


def _plane_outputs(intrinsics, extrinsics, calls):
    """A perfect network: the plane's exact depth for the reference
    camera [1, 3, 3] / [1, 4, 4], at two levels, confidence 1."""
    calls.append(torch.is_grad_enabled())
    depth = torch.from_numpy(
        plane_depth(intrinsics[0, 0].double().numpy(),
                    extrinsics[0, 0].double().numpy())).float()[None]
    return dict(depths=[depth, depth[:, ::2, ::2]],
                confidence=torch.ones_like(depth))


@pytest.fixture
def plane_dataset():
    """A factory of :class:`PlaneDataset` (``scans``, ``order``)."""
    return PlaneDataset


@pytest.fixture
def plain_plane_model():
    """A plain module called as ``model(imgs, intrinsics, extrinsics,
    depth_min, depth_max)``; ``model.calls`` records whether gradients
    were on at each call."""

    class PlainPlaneModel(torch.nn.Module):

        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(1))
            self.calls = []

        def forward(self, imgs, intrinsics, extrinsics, depth_min,
                    depth_max):
            assert imgs.dim() == 5 and depth_min.shape == (1, )
            return _plane_outputs(intrinsics, extrinsics, self.calls)

    return PlainPlaneModel().train()


@pytest.fixture
def base_plane_model():
    """The same network as an MMEngine ``BaseModel`` with the default data
    preprocessor (``forward(**batch, mode)``)."""

    class BasePlaneModel(BaseModel):

        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(1))
            self.calls = []

        def forward(self, imgs, intrinsics, extrinsics, depth_min,
                    depth_max, meta=None, mode='tensor'):
            assert mode == 'tensor' and len(imgs) == 1
            return _plane_outputs(torch.stack(intrinsics),
                                  torch.stack(extrinsics), self.calls)

    return BasePlaneModel().train()
