import pytest

from mmext.utils import cpus
from mmext.utils.cpus import cgroup_cpu_quota, threads_per_process


def _files(tmp_path, **texts):
    paths = {}
    for name in ('cpu_max', 'v1_quota', 'v1_period'):
        path = tmp_path / name
        if name in texts:
            path.write_text(texts[name] + '\n')
        paths[name] = str(path)
    return paths


@pytest.mark.parametrize('texts, expected', [
    (dict(cpu_max='200000 100000'), 2.0),
    (dict(cpu_max='150000 100000'), 1.5),
    (dict(cpu_max='max 100000'), None),
    (dict(v1_quota='300000', v1_period='100000'), 3.0),
    (dict(v1_quota='-1', v1_period='100000'), None),
    ({}, None),
])
def test_the_cgroup_quota_is_read_from_v2_then_v1(tmp_path, texts, expected):
    assert cgroup_cpu_quota(**_files(tmp_path, **texts)) == expected


def test_a_quota_caps_the_affinity_mask(monkeypatch):
    monkeypatch.setattr(cpus.os, 'sched_getaffinity', lambda pid: set(
        range(64)), raising=False)
    monkeypatch.setattr(cpus, 'cgroup_cpu_quota', lambda: 1.5)
    assert cpus.available_cpus() == 2
    monkeypatch.setattr(cpus, 'cgroup_cpu_quota', lambda: None)
    assert cpus.available_cpus() == 64


@pytest.mark.parametrize('local_world_size, expected',
                         [(None, 8), ('1', 8), ('2', 4), ('3', 2), ('16', 1)])
def test_the_ranks_of_a_machine_share_its_cpus(monkeypatch, local_world_size,
                                               expected):
    monkeypatch.setattr(cpus, 'available_cpus', lambda: 8)
    monkeypatch.delenv('LOCAL_WORLD_SIZE', raising=False)
    if local_world_size is not None:
        monkeypatch.setenv('LOCAL_WORLD_SIZE', local_world_size)
    assert threads_per_process() == expected
    assert threads_per_process(local_processes=4) == 2
