"""Recognition distillation (KD_cls) of DICOD (Guo et al., NeurIPS 2021,
arXiv 2106.05209, Sec. 3.1, Eqs. 1-7).

The teacher is an image classifier over the detector's ``C`` object classes;
its logits for a ground-truth object are the target of every positive
anchor or proposal assigned to that object. Both losses are ``T^2``-scaled
KL divergences averaged over the ``K`` positives.
"""
import torch
import torch.nn.functional as F
from torch import Tensor


def _check_temperature(temperature: float) -> None:
    if not temperature > 0:
        raise ValueError(f'kd_cls.T: the temperature must be > 0, got '
                         f'{temperature}')


def kd_cls_softmax(student_logits: Tensor, teacher_logits: Tensor,
                   T: float) -> Tensor:  # noqa: N803 (the paper's symbol)
    """KD for softmax students: Faster R-CNN's RoI head, SSD (Eqs. 1-4).

    The teacher distribution ``softmax(z_t / T)`` over ``C`` classes gets a
    zero background probability appended (mmdet's background is the last
    class), and ``KL(p_t || p_s) * T^2`` is averaged over the objects.

    Args:
        student_logits: ``[K, C + 1]`` logits, background last.
        teacher_logits: ``[K, C]`` teacher logits of each positive's
            assigned ground truth.
        T: Temperature, > 0 (the paper uses 2).

    Returns:
        Scalar loss; 0 (attached to the graph) when ``K == 0``.
    """
    _check_temperature(T)
    num, classes_plus_bg = student_logits.shape
    if teacher_logits.shape != (num, classes_plus_bg - 1):
        raise ValueError(
            f'teacher logits {tuple(teacher_logits.shape)} do not match '
            f'student logits {tuple(student_logits.shape)}: the student '
            'has C + 1 classes (background last), the teacher C')
    if num == 0:
        return student_logits.sum() * 0
    teacher_prob = F.softmax(teacher_logits.detach().float() / T, dim=1)
    teacher_prob = F.pad(teacher_prob, (0, 1))  # zero background
    student_log_prob = F.log_softmax(student_logits.float() / T, dim=1)
    kl = (torch.xlogy(teacher_prob, teacher_prob) -
          teacher_prob * student_log_prob).sum(dim=1)
    return kl.mean() * T**2


def kd_cls_sigmoid(student_logits: Tensor, teacher_logits: Tensor,
                   labels: Tensor,
                   T: float) -> Tensor:  # noqa: N803 (the paper's symbol)
    """KD for sigmoid students such as RetinaNet (Eqs. 5-7).

    Per class ``c`` the probability ``p = sigmoid(z_c / T)`` forms the
    two-way distribution ``[1 - p, p]`` when ``c`` is the object's
    ground-truth label ``l`` and ``[p, 1 - p]`` otherwise, for teacher and
    student alike; the loss is ``T^2 / C`` times the sum over classes of the
    two-way KL, averaged over the objects.

    Args:
        student_logits: ``[K, C]`` sigmoid logits.
        teacher_logits: ``[K, C]`` teacher logits of each positive's
            assigned ground truth.
        labels: ``[K]`` ground-truth labels in ``[0, C)``.
        T: Temperature, > 0.

    Returns:
        Scalar loss; 0 (attached to the graph) when ``K == 0``.
    """
    _check_temperature(T)
    if teacher_logits.shape != student_logits.shape:
        raise ValueError(
            f'teacher logits {tuple(teacher_logits.shape)} do not match '
            f'student logits {tuple(student_logits.shape)}: sigmoid heads '
            'have C outputs, as many as the teacher')
    num, num_classes = student_logits.shape
    if labels.shape != (num, ):
        raise ValueError(f'labels: expected [{num}], got '
                         f'{tuple(labels.shape)}')
    if num == 0:
        return student_logits.sum() * 0
    is_label = F.one_hot(labels.long(), num_classes).bool()

    def two_way_log_probs(logits: Tensor) -> Tensor:
        """``[K, C, 2]`` log-probabilities, ordered as Eq. 6 says."""
        log_p = F.logsigmoid(logits / T)
        log_not_p = F.logsigmoid(-logits / T)
        first = torch.where(is_label, log_not_p, log_p)
        second = torch.where(is_label, log_p, log_not_p)
        return torch.stack([first, second], dim=2)

    teacher_log = two_way_log_probs(teacher_logits.detach().float())
    student_log = two_way_log_probs(student_logits.float())
    kl = (teacher_log.exp() * (teacher_log - student_log)).sum(dim=(1, 2))
    return kl.mean() * T**2 / num_classes
