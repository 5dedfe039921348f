"""Size presets of Shapes-MVS: one frozen dataclass per preset.

Add a preset by adding an entry to :data:`PRESETS`; the CLI's ``--preset``
choices follow this table. Lengths are millimetres (DTU's unit), angles
degrees, image sizes ``(H, W)`` pixels.
"""
from dataclasses import dataclass
from typing import Dict, Tuple

from ..shapes.presets import lookup_preset, preset_dict

# Written to meta.json; a directory whose meta.json names this generator is
# a previous Shapes-MVS output that the CLI may replace. Bump the version
# when the bytes for a given (preset, seed) change.
GENERATOR_NAME = 'mmext.datasets.shapes_mvs'
GENERATOR_VERSION = '1.1'


@dataclass(frozen=True)
class ShapesMVSPreset:
    """Every size and count the generator uses.

    Attributes:
        name: Preset name (the CLI's ``--preset``).
        num_train_scans: Scenes of the train root (images under 7 lights,
            depth maps).
        num_test_scans: Other scenes, for the test root (high-resolution
            images under light 3, depth maps, ground-truth points).
        train_size: ``(H, W)`` of the train images and depth maps.
        test_scale: The test images are ``test_scale`` times the train size
            per side, with the intrinsics scaled to match.
        rings: ``(elevation, views)`` per ring of cameras; view ids run ring
            by ring. Every ring spans ``azimuth_span`` around the front of
            the scene; odd rings are shifted by half a step.
        azimuth_span: Azimuth range covered by each ring.
        camera_distance: Distance of every camera from ``look_at``.
        look_at: Height of the point all cameras look at (on the z axis).
        horizontal_fov: Horizontal field of view of every camera.
        camera_jitter: ``(look-at offset in mm, roll in degrees)``: fixed
            random perturbations per camera, so that no two views are
            exactly rectified (same for all scans of one seed).
        depth_min: Nearest depth hypothesis, shared by all views (DTU: 425).
        depth_interval: Hypothesis spacing; ``depth_min + 256 *
            depth_interval`` bounds every visible depth (DTU: 2.5).
        ground_half_size: The textured ground is the square
            ``[-g, g]^2`` at ``z = 0``.
        placement_radius: Object footprints lie inside this disk.
        objects: ``(min, max)`` objects per scene.
        object_size: ``(min, max)`` of an object's main size (box edge,
            sphere/cylinder/cone diameter).
        max_lift: Objects rest on the ground or float at most this high.
        placement_tries: Placements tried per object before it is skipped.
        texture_cell: Cell size of the solid value noise; about 3 train
            pixels, so that stereo matching has structure to match.
        supersample: ``s x s`` colour samples per pixel (depth: the centre
            ray).
        point_spacing: Voxel size of the ground-truth point thinning.
    """

    name: str
    num_train_scans: int
    num_test_scans: int
    train_size: Tuple[int, int]
    test_scale: int
    rings: Tuple[Tuple[float, int], ...]
    azimuth_span: float
    camera_distance: float
    look_at: float
    horizontal_fov: float
    camera_jitter: Tuple[float, float]
    depth_min: float
    depth_interval: float
    ground_half_size: float
    placement_radius: float
    objects: Tuple[int, int]
    object_size: Tuple[float, float]
    max_lift: float
    placement_tries: int
    texture_cell: float
    supersample: int
    point_spacing: float

    @property
    def num_views(self) -> int:
        """Cameras in all rings."""
        return sum(count for _, count in self.rings)

    @property
    def test_size(self) -> Tuple[int, int]:
        """``(H, W)`` of the test images."""
        return (self.train_size[0] * self.test_scale,
                self.train_size[1] * self.test_scale)

    @property
    def depth_max(self) -> float:
        """``depth_min + 256 * depth_interval`` (CVP-MVSNet's far plane)."""
        return self.depth_min + 256 * self.depth_interval

    def to_dict(self) -> Dict:
        """JSON-friendly copy (tuples, also nested ones, become lists)."""
        return preset_dict(self)


# Both presets share DTU's depth range (425 + 256 x 2.5 = 1065 mm) and
# camera geometry; the camera rig covers the content box (ground square,
# objects up to 2 * object_size[1] / 2 + max_lift high) inside that range,
# which the generator checks.
_COMMON = dict(
    camera_distance=700.0, look_at=40.0, horizontal_fov=30.0,
    camera_jitter=(6.0, 2.0), depth_min=425.0, depth_interval=2.5,
    ground_half_size=180.0, placement_radius=140.0, max_lift=10.0,
    placement_tries=30, supersample=2)

PRESETS: Dict[str, ShapesMVSPreset] = {
    # For tests: generates in well under a second; 32x40 train and 64x80
    # test images, so the texture is coarse (about 3 train pixels a cell).
    'tiny': ShapesMVSPreset(
        name='tiny', num_train_scans=2, num_test_scans=1,
        train_size=(32, 40), test_scale=2, rings=((30.0, 5), ),
        azimuth_span=60.0, objects=(2, 3), object_size=(60.0, 100.0),
        texture_cell=30.0, point_spacing=6.0, **_COMMON),
    # For `make demo`: half of CVP-MVSNet's 128x160 training size per side
    # (64x80, so that training fits 30 minutes of a 2-core CPU); 128x160
    # test images.
    'demo': ShapesMVSPreset(
        name='demo', num_train_scans=12, num_test_scans=3,
        train_size=(64, 80), test_scale=2,
        rings=((28.0, 9), (44.0, 9)), azimuth_span=120.0, objects=(3, 6),
        object_size=(40.0, 100.0), texture_cell=16.0, point_spacing=2.0,
        **_COMMON),
}


def get_preset(name: str) -> ShapesMVSPreset:
    """Look a preset up by name.

    Raises:
        ValueError: ``name`` is not in :data:`PRESETS` (the message lists
            the valid names).
    """
    return lookup_preset(PRESETS, name)
