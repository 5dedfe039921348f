"""OpenMMLab metadata: model-index.yml and one metafile.yml per paper.

``mim`` and the OpenMMLab model zoo read these files; every config, README
and code path they name must exist, every model belongs to a collection,
every result is a number on a named task and data set, and a number that
mmext did not measure says where it comes from.
"""
import glob
import numbers
import os.path as osp

import pytest
import yaml

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# configs/ folders that are not papers: shared bases and the data suite's
# smoke configs.
NOT_PAPERS = ('_base_', 'shapes')


def load(path):
    with open(osp.join(ROOT, path), encoding='utf-8') as f:
        return yaml.safe_load(f)


def metafiles():
    return load('model-index.yml')['Import']


def results_of(model):
    """A model's Results as a list (mmseg writes one entry as a dict)."""
    results = model.get('Results') or []
    return [results] if isinstance(results, dict) else results


def test_model_index_imports_one_metafile_per_paper():
    imports = metafiles()
    assert len(imports) == len(set(imports))
    for path in imports:
        assert osp.isfile(osp.join(ROOT, path)), path
    papers = sorted(
        osp.basename(osp.dirname(p))
        for p in glob.glob(osp.join(ROOT, 'configs', '*', '*.py'))
        if osp.basename(osp.dirname(p)) not in NOT_PAPERS)
    assert sorted(f'configs/{p}/metafile.yml' for p in set(papers)) == \
        sorted(imports)


def test_packaging_ships_the_model_index():
    with open(osp.join(ROOT, 'setup.py'), encoding='utf-8') as f:
        assert "'model-index.yml'" in f.read()
    with open(osp.join(ROOT, 'MANIFEST.in'), encoding='utf-8') as f:
        manifest = f.read().splitlines()
    assert 'include mmext/.mim/model-index.yml' in manifest
    assert any(
        line.startswith('recursive-include mmext/.mim/configs')
        and '*.yml' in line for line in manifest)


def metafile_problems(meta: dict, folder: str, root: str = ROOT) -> list:
    """What is wrong in one paper's metafile.

    Args:
        meta (dict): The loaded ``metafile.yml``.
        folder (str): Its folder, ``configs/<paper>``.
        root (str): The repository root.

    Returns:
        list[str]: One message per problem.
    """
    problems = []

    def check(ok, message):
        if not ok:
            problems.append(message)

    collections = {c.get('Name'): c for c in meta.get('Collections') or []}
    check(collections, 'no Collections')
    for name, collection in collections.items():
        where = f'collection {name}'
        paper = collection.get('Paper') or {}
        check(
            str(paper.get('URL', '')).startswith('https://arxiv.org/abs/'),
            f'{where}: Paper URL is not an arXiv page')
        check(paper.get('Title'), f'{where}: no Paper Title')
        check(
            collection.get('README') == f'{folder}/README.md'
            and osp.isfile(osp.join(root, folder, 'README.md')),
            f'{where}: README must be {folder}/README.md')
        code = collection.get('Code') or {}
        check(osp.isfile(osp.join(root, str(code.get('URL')))),
              f"{where}: Code URL {code.get('URL')} is not a file of mmext")
        check(code.get('Version'), f'{where}: no Code Version')
        check((collection.get('Metadata') or {}).get('Architecture'),
              f'{where}: no Metadata Architecture')

    names = set()
    for model in meta.get('Models') or []:
        name = model.get('Name')
        where = f'model {name}'
        check(name not in names, f'{where}: listed twice')
        names.add(name)
        check(
            model.get('In Collection') in collections,
            f"{where}: In Collection {model.get('In Collection')!r} is "
            f'none of {sorted(collections)}')
        check(
            model.get('Config') == f'{folder}/{name}.py'
            and osp.isfile(osp.join(root, folder, f'{name}.py')),
            f'{where}: Config must be the existing {folder}/{name}.py')
        metadata = model.get('Metadata')
        check(isinstance(metadata, dict), f'{where}: no Metadata')
        metadata = metadata if isinstance(metadata, dict) else {}
        for result in results_of(model):
            check(
                result.get('Task') and result.get('Dataset'),
                f'{where}: a Results entry without Task or Dataset')
            metrics = result.get('Metrics') or {}
            check(metrics, f'{where}: a Results entry without Metrics')
            for key, value in metrics.items():
                check(
                    isinstance(value, numbers.Real)
                    and not isinstance(value, bool),
                    f'{where}: metric {key!r} = {value!r} is not a number')
            if not str(result.get('Dataset')).startswith('Shapes'):
                # Real-data numbers are the paper's or its authors'.
                check(
                    'not reproduced' in str(metadata.get('Results Source',
                                                         '')),
                    f"{where}: {result.get('Dataset')} result without a "
                    "'Results Source' saying mmext did not reproduce it")
        check(
            str(model.get('Weights', 'https://')).startswith('https://'),
            f'{where}: Weights is not a URL')

    configs = {
        f'{folder}/{osp.basename(p)}'
        for p in glob.glob(osp.join(root, folder, '*.py'))
    }
    listed = {m.get('Config') for m in meta.get('Models') or []}
    check(configs <= listed,
          f'configs not in the metafile: {sorted(configs - listed)}')
    return problems


def test_metafile_checker_flags_planted_problems(tmp_path):
    folder = 'configs/p'
    (tmp_path / folder).mkdir(parents=True)
    for name in ('README.md', 'a.py', 'b.py', 'c.py'):
        (tmp_path / folder / name).write_text('')
    (tmp_path / 'code.py').write_text('')
    collection = dict(Name='P',
                      Metadata=dict(Architecture=['ResNet']),
                      Paper=dict(URL='https://arxiv.org/abs/0000.00000',
                                 Title='P'),
                      README=f'{folder}/README.md',
                      Code=dict(URL='code.py', Version='v1'))
    good = dict(
        Name='a',
        Config=f'{folder}/a.py',
        Metadata={},
        **{'In Collection': 'P'},
        Results=[dict(Task='T', Dataset='Shapes', Metrics={'mIoU': 62.76})])
    meta = dict(Collections=[collection],
                Models=[
                    good,
                    dict(good,
                         Name='b',
                         Config=f'{folder}/b.py',
                         **{'In Collection': 'Q'}),
                    dict(good,
                         Name='c',
                         Config=f'{folder}/c.py',
                         Results=[
                             dict(Task='T',
                                  Dataset='ADE20K',
                                  Metrics={'mIoU': '37.4'})
                         ]),
                    dict(good, Name='d', Config=f'{folder}/d.py'),
                ])
    assert metafile_problems(meta, folder, str(tmp_path)) == [
        "model b: In Collection 'Q' is none of ['P']",
        "model c: metric 'mIoU' = '37.4' is not a number",
        "model c: ADE20K result without a 'Results Source' saying mmext "
        'did not reproduce it',
        'model d: Config must be the existing configs/p/d.py',
    ]
    meta['Models'] = meta['Models'][:1]
    assert metafile_problems(meta, folder, str(tmp_path)) == [
        "configs not in the metafile: ['configs/p/b.py', 'configs/p/c.py']"
    ]


@pytest.mark.parametrize('metafile', metafiles())
def test_metafile_is_complete_and_consistent(metafile):
    problems = metafile_problems(load(metafile), osp.dirname(metafile))
    assert not problems, f'{metafile}:\n' + '\n'.join(problems)


def test_every_measured_shapes_model_has_results():
    # The Shapes configs are the ones mmext trains: each has a figure.
    for metafile in metafiles():
        for model in load(metafile)['Models']:
            if model['Metadata'].get('Training Data') == 'Shapes':
                assert results_of(model), f"{model['Name']}: no Results"
