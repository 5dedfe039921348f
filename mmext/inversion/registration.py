"""Registration of GradInversion's seeds before their consensus (Yin et al.,
"See through Gradients: Image Batch Recovery via GradInversion", CVPR 2021,
arXiv 2104.07586, Sec. 3.4).

The paper registers every seed's reconstruction to the pixel mean of the
seeds with RANSAC-Flow and averages the registered images. RANSAC-Flow needs
pretrained feature weights, which mmext may not download at run time, so
mmext registers with **integer translations found by phase correlation**:

- reconstructions of one image from different seeds differ mostly by where
  the object sits, because a CNN ending in global average pooling is nearly
  translation invariant and so is its gradient (a shifted image gives almost
  the same weight gradients);
- phase correlation finds that shift exactly and in closed form (one FFT per
  image), with nothing learnt.

``registration='none'`` is the paper's "lazy" consensus, the plain mean.
"""
import torch

REGISTRATIONS = ('none', 'translation')


def phase_correlation_shift(reference: torch.Tensor,
                            moving: torch.Tensor) -> torch.Tensor:
    """Integer shifts that align ``moving`` to ``reference``.

    ``torch.roll(moving[i], shifts, dims=(-2, -1))`` with the returned
    ``shifts[i]`` is the circular translation of ``moving[i]`` that best
    correlates with ``reference[i]`` (the peak of the normalised
    cross-power spectrum, summed over channels).

    Args:
        reference (Tensor): [N, C, H, W].
        moving (Tensor): [N, C, H, W].

    Returns:
        LongTensor: [N, 2], (dy, dx) in ``[0, H)`` x ``[0, W)``.
    """
    if reference.shape != moving.shape or reference.dim() != 4:
        raise ValueError(
            'phase_correlation_shift: reference and moving must both be '
            f'[N, C, H, W]; got {tuple(reference.shape)} and '
            f'{tuple(moving.shape)}')
    ref_f = torch.fft.fft2(reference.double())
    mov_f = torch.fft.fft2(moving.double())
    cross = (ref_f * mov_f.conj()).sum(1)
    cross = cross / cross.abs().clamp_min(1e-12)
    surface = torch.fft.ifft2(cross).real.flatten(1)
    width = reference.shape[-1]
    peak = surface.argmax(1)
    return torch.stack((peak // width, peak % width), dim=1)


def register_translation(images: torch.Tensor,
                         reference: torch.Tensor) -> torch.Tensor:
    """Translate every seed's images onto ``reference``.

    Args:
        images (Tensor): [G, N, C, H, W], G seeds of a batch of N.
        reference (Tensor): [N, C, H, W].

    Returns:
        Tensor: [G, N, C, H, W], each image circularly shifted by its
        :func:`phase_correlation_shift` to ``reference``.
    """
    seeds, batch = images.shape[:2]
    flat = images.flatten(0, 1)
    shifts = phase_correlation_shift(
        reference.unsqueeze(0).expand_as(images).flatten(0, 1), flat)
    registered = torch.stack([
        torch.roll(image, (int(dy), int(dx)), dims=(-2, -1))
        for image, (dy, dx) in zip(flat, shifts.tolist())
    ])
    return registered.view(seeds, batch, *images.shape[2:])


def group_consensus(images: torch.Tensor,
                    registration: str = 'translation') -> torch.Tensor:
    """The paper's consensus ``E = mean_g F_{x_g -> mean}(x_g)``.

    Args:
        images (Tensor): [G, N, C, H, W].
        registration (str): ``'translation'`` (phase correlation to the
            pixel mean, then the mean) or ``'none'`` (the plain mean, the
            paper's "lazy" variant).

    Returns:
        Tensor: [N, C, H, W].
    """
    if registration not in REGISTRATIONS:
        raise ValueError(f'group registration must be one of '
                         f'{REGISTRATIONS}, got {registration!r}')
    mean = images.mean(0)
    if registration == 'none' or images.shape[0] == 1:
        return mean
    return register_translation(images, mean).mean(0)
