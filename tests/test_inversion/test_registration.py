"""Phase-correlation registration of GradInversion's seeds."""
import pytest
import torch

from mmext.inversion import (group_consensus, phase_correlation_shift,
                             register_translation)


def test_phase_correlation_finds_the_shift():
    torch.manual_seed(0)
    reference = torch.rand(3, 3, 16, 20)
    shifts = [(3, 5), (0, 17), (15, 0)]
    moving = torch.stack([
        torch.roll(image, (-dy, -dx), dims=(-2, -1))
        for image, (dy, dx) in zip(reference, shifts)
    ])
    found = phase_correlation_shift(reference, moving)
    assert found.tolist() == [list(s) for s in shifts]
    for image, target, (dy, dx) in zip(moving, reference, found.tolist()):
        assert torch.equal(torch.roll(image, (dy, dx), dims=(-2, -1)),
                           target)
    with pytest.raises(ValueError, match=r'\[N, C, H, W\]'):
        phase_correlation_shift(reference, moving[:2])


def test_registered_consensus_undoes_a_shifted_seed():
    torch.manual_seed(1)
    image = torch.rand(2, 3, 16, 16)
    shifted = torch.roll(image, (4, -3), dims=(-2, -1))
    seeds = torch.stack([image, image, shifted])  # [G=3, N=2, 3, 16, 16]
    registered = register_translation(seeds, seeds.mean(0))
    assert torch.allclose(registered[2], image)
    assert torch.allclose(group_consensus(seeds, 'translation'), image)
    # The lazy mean keeps the misaligned seed's ghost.
    lazy = group_consensus(seeds, 'none')
    assert torch.allclose(lazy, seeds.mean(0))
    assert not torch.allclose(lazy, image, atol=1e-2)
    with pytest.raises(ValueError, match='registration'):
        group_consensus(seeds, 'ransac-flow')
