"""A detection data set seen as an active-learning pool: labelled images
with their ground truth, pseudo-labelled images with the model's boxes, and
unlabelled images with no boxes.

Elezi et al. (CVPR 2022, arXiv 2106.11921, Sec. 3) train every cycle on
the three kinds at once: the supervised loss on labelled and pseudo-labelled
images (the latter on their positives only), the flip-consistency loss on
all of them. Each sample carries its kind as ``al_role`` in the data
sample's metainfo (``'labelled'``, ``'pseudo'`` or ``'unlabelled'``), which
is what :class:`mmext.FlipConsistencyDetector` reads.
"""
from typing import Any, Dict, List, Mapping, Sequence, Tuple

from torch.utils.data import Dataset

#: The three kinds of pool images.
ROLES = ('labelled', 'pseudo', 'unlabelled')


def pseudo_instances(bboxes: Sequence[Sequence[float]],
                     labels: Sequence[int]) -> List[Dict[str, Any]]:
    """mmdet ``instances`` entries of pseudo boxes (original pixels)."""
    return [
        dict(bbox=[float(v) for v in box], bbox_label=int(label),
             ignore_flag=0) for box, label in zip(bboxes, labels)
    ]


class ActivePoolDataset(Dataset):
    """Labelled, pseudo-labelled and unlabelled images of one data set.

    Args:
        dataset: An mmdet detection data set (``get_data_info`` and
            ``pipeline``), e.g. the training pool's ``CocoDataset``.
        entries: ``(position, role)`` per sample, position into
            ``dataset``.
        pseudo: Pseudo instances of the ``'pseudo'`` positions
            (``position -> [dict(bbox, bbox_label, ignore_flag)]``).
    """

    def __init__(self, dataset: Any, entries: Sequence[Tuple[int, str]],
                 pseudo: Mapping[int, List[Dict[str, Any]]]) -> None:
        for position, role in entries:
            if role not in ROLES:
                raise ValueError(f'role {role!r} of position {position}: '
                                 f'expected one of {ROLES}')
            if role == 'pseudo' and position not in pseudo:
                raise ValueError(f'position {position} is pseudo-labelled '
                                 'but has no pseudo instances')
        self.dataset = dataset
        self.entries = list(entries)
        self.pseudo = dict(pseudo)

    @property
    def metainfo(self) -> dict:
        """The wrapped data set's metainfo (classes, palette)."""
        return self.dataset.metainfo

    def indices_of(self, *roles: str) -> List[int]:
        """Sample indices whose role is one of ``roles``."""
        return [i for i, (_, role) in enumerate(self.entries) if role in roles]

    def __len__(self) -> int:
        return len(self.entries)

    def _source(self, position: int) -> tuple:
        """``(data set, index)`` that holds ``position``: a
        ``ConcatDataset`` (VOC07+12) keeps one pipeline per part."""
        if hasattr(self.dataset, '_get_ori_dataset_idx'):
            part, index = self.dataset._get_ori_dataset_idx(position)
            return self.dataset.datasets[part], index
        return self.dataset, position

    def __getitem__(self, index: int) -> dict:
        position, role = self.entries[index]
        source, local = self._source(position)
        info = source.get_data_info(local)  # a copy
        if role == 'unlabelled':
            info['instances'] = []
        elif role == 'pseudo':
            info['instances'] = [dict(x) for x in self.pseudo[position]]
        data = source.pipeline(info)
        if data is None:
            raise RuntimeError(
                f'the training pipeline dropped image {info.get("img_id")} '
                f'({role}); active learning needs every pool image, so '
                'remove filtering transforms from the pool pipeline')
        data['data_samples'].set_metainfo(dict(al_role=role))
        return data
