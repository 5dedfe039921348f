"""mmext.utils.cli.prepare_cfg: the start that every tool shares."""
import argparse

from mmengine.config import Config

from mmext.utils.cli import prepare_cfg


def test_prepare_cfg_reports_user_errors(tmp_path, capsys):
    args = argparse.Namespace(root=str(tmp_path / 'missing'))

    def build(parsed):
        return Config(dict(
            launcher='none',
            test_dataloader=dict(dataset=dict(
                type='CustomDataset', data_root=parsed.root,
                data_prefix='train'))))

    assert prepare_cfg(build, args, ('test_dataloader', )) is None
    assert 'missing' in capsys.readouterr().err
    args.root = str(tmp_path)
    (tmp_path / 'train').mkdir()
    cfg = prepare_cfg(build, args, ('test_dataloader', ))
    assert cfg.test_dataloader.dataset.data_root == str(tmp_path)

    def bad(parsed):
        raise ValueError('field: the fix')

    assert prepare_cfg(bad, args, (), errors=(ValueError, )) is None
    assert capsys.readouterr().err == 'error: field: the fix\n'
