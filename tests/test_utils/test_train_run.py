"""mmext.utils.train_run.train_and_read_metric on a real MessageHub."""
import pytest
from mmengine.logging import MessageHub

from mmext.utils.train_run import train_and_read_metric


class FakeRunner:
    """Trains by logging validation scalars to its own message hub."""

    def __init__(self, name: str, logged: dict) -> None:
        self.message_hub = MessageHub(name)
        self.logged = logged
        self.trained = False

    def train(self) -> None:
        self.trained = True
        for key, values in self.logged.items():
            for value in values:
                self.message_hub.update_scalar(key, value)


def test_returns_the_last_logged_value_and_the_seconds():
    runner = FakeRunner('train_run_ok', {
        'val/accuracy/top1': [10.0, 42.5],
        'train/loss': [1.0]
    })
    value, seconds = train_and_read_metric(runner, 'accuracy/top1', 'tool')
    assert runner.trained
    assert value == 42.5 and seconds >= 0


def test_a_missing_metric_names_the_logged_ones_and_the_option():
    runner = FakeRunner('train_run_missing', {'val/coco/bbox_mAP': [0.3]})
    with pytest.raises(SystemExit) as error:
        train_and_read_metric(runner, 'accuracy/top1', 'compare_pruners')
    message = str(error.value)
    assert message.startswith('compare_pruners: no validation metric '
                              "'accuracy/top1'")
    assert "['val/coco/bbox_mAP']" in message and '--metric' in message
