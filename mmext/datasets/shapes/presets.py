"""Size presets of the Shapes suite: one frozen dataclass per preset.

Add a preset by adding an entry to :data:`PRESETS`; the CLI's ``--preset``
choices follow this table. :func:`preset_dict` and :func:`lookup_preset`
serve the presets of Shapes-MVS too.
"""
from dataclasses import asdict, dataclass
from typing import Any, Dict, Mapping, Tuple, TypeVar

Preset = TypeVar('Preset')

# Written to meta.json; a directory whose meta.json names this generator is
# a previous Shapes output that the CLI may replace. Bump the version when
# the bytes for a given (preset, seed, long_tail) change.
GENERATOR_NAME = 'mmext.datasets.shapes'
GENERATOR_VERSION = '1.0'


@dataclass(frozen=True)
class ShapesPreset:
    """Every size and count the generator uses.

    Attributes:
        name: Preset name (the CLI's ``--preset``).
        image_size: Scene height and width in pixels (scenes are square).
        num_train: Number of train scenes.
        num_val: Number of val scenes.
        min_objects: Fewest objects placed per scene (uniform mode).
        max_objects: Most objects placed per scene (both modes).
        min_object_size: Smallest object diameter (circumscribed circle), px.
        max_object_size: Largest object diameter, px.
        min_visible_frac: An earlier object must keep at least this fraction
            of its full area visible; a placement that breaks it is retried.
        min_visible_px: ... and at least this many visible pixels.
        placement_tries: Placements tried per object before it is skipped.
        max_stuff_regions: Scenes have 1..this many stuff regions.
        crop_size: Side of the classification crops, px.
        crops_train: Classification crops per class, train split.
        crops_val: Classification crops per class, val split.
        crop_object_frac: (min, max) object diameter as a fraction of
            ``crop_size``.
        long_tail_head: Long-tail mode: target number of train images that
            contain the most frequent class.
        long_tail_exponent: Zipf exponent ``s``: the class of rank ``k``
            (1-based) is put in ``round(head / k**s)`` train images (>= 1).
        lvis_thresholds: ``(r_max, c_max)``: a class in at most ``r_max``
            train images is rare ('r'), in at most ``c_max`` common ('c'),
            otherwise frequent ('f'). LVIS uses ``(10, 100)``.
        extra_instance_prob: Long-tail mode: chance that a planned class gets
            a second instance in the same image.
    """

    name: str
    image_size: int
    num_train: int
    num_val: int
    min_objects: int
    max_objects: int
    min_object_size: float
    max_object_size: float
    min_visible_frac: float
    min_visible_px: int
    placement_tries: int
    max_stuff_regions: int
    crop_size: int
    crops_train: int
    crops_val: int
    crop_object_frac: Tuple[float, float]
    long_tail_head: int
    long_tail_exponent: float
    lvis_thresholds: Tuple[int, int]
    extra_instance_prob: float = 0.25

    def to_dict(self) -> Dict:
        """JSON-friendly copy (tuples become lists)."""
        return preset_dict(self)


PRESETS: Dict[str, ShapesPreset] = {
    # For tests: generates in well under a second. Long-tail thresholds are
    # scaled to its 16 train images: r <= 2, c <= 6, f > 6 (Zipf 14/k^1.5
    # gives image counts 14, 5, 3, 2, 1, 1, 1, 1 -> 1 f, 2 c, 5 r).
    'tiny': ShapesPreset(
        name='tiny', image_size=64, num_train=16, num_val=8,
        min_objects=1, max_objects=3, min_object_size=12,
        max_object_size=28, min_visible_frac=0.3, min_visible_px=20,
        placement_tries=20, max_stuff_regions=3, crop_size=32,
        crops_train=8, crops_val=8, crop_object_frac=(0.55, 0.85),
        long_tail_head=14, long_tail_exponent=1.5, lvis_thresholds=(2, 6)),
    # For `make demo` and the Shapes configs. LVIS thresholds unscaled:
    # Zipf 900/k^2.5 gives 900, 159, 58, 28, 16, 10, 7, 5 train images
    # -> 2 f, 3 c, 3 r.
    'demo': ShapesPreset(
        name='demo', image_size=128, num_train=1000, num_val=200,
        min_objects=1, max_objects=4, min_object_size=32,
        max_object_size=64, min_visible_frac=0.5, min_visible_px=60,
        placement_tries=20, max_stuff_regions=3, crop_size=64,
        crops_train=600, crops_val=100, crop_object_frac=(0.55, 0.85),
        long_tail_head=900, long_tail_exponent=2.5,
        lvis_thresholds=(10, 100)),
}


def preset_dict(preset: Any) -> Dict:
    """JSON-friendly copy of a preset dataclass (tuples, also nested ones,
    become lists)."""

    def plain(value):
        if isinstance(value, tuple):
            return [plain(v) for v in value]
        return value

    return {k: plain(v) for k, v in asdict(preset).items()}


def lookup_preset(presets: Mapping[str, Preset], name: str) -> Preset:
    """Look a preset up by name in a table of presets.

    Raises:
        ValueError: ``name`` is not in ``presets`` (the message lists the
            valid names).
    """
    if name not in presets:
        raise ValueError(f'preset: unknown preset {name!r}; choose one of '
                         f'{sorted(presets)}')
    return presets[name]


def get_preset(name: str) -> ShapesPreset:
    """Look a preset up by name.

    Raises:
        ValueError: ``name`` is not in :data:`PRESETS` (the message lists
            the valid names).
    """
    return lookup_preset(PRESETS, name)
