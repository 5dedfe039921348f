"""How many CPU threads a process should use.

Native libraries size their thread pools from the machine's hardware
concurrency, which inside a container or under a CPU quota can be far more
than the cores the process may run on; several ranks of one machine doing so
at once oversubscribe the cores, and OpenMP's spinning barriers then slow
each library call down by orders of magnitude. :func:`threads_per_process`
gives the share of one process instead.
"""
import math
import os
from typing import Optional

#: cgroup v2's CPU quota file (``"<quota> <period>"`` or ``"max <period>"``).
CGROUP_V2_CPU_MAX = '/sys/fs/cgroup/cpu.max'
#: cgroup v1's quota and period files (microseconds; quota -1: none).
CGROUP_V1_QUOTA = '/sys/fs/cgroup/cpu/cpu.cfs_quota_us'
CGROUP_V1_PERIOD = '/sys/fs/cgroup/cpu/cpu.cfs_period_us'


def _read(path: str) -> Optional[str]:
    try:
        with open(path) as handle:
            return handle.read().strip()
    except OSError:
        return None


def cgroup_cpu_quota(cpu_max: str = CGROUP_V2_CPU_MAX,
                     v1_quota: str = CGROUP_V1_QUOTA,
                     v1_period: str = CGROUP_V1_PERIOD) -> Optional[float]:
    """The CPUs a cgroup quota allows (e.g. 2.0), or None without a quota.

    Args:
        cpu_max (str): cgroup v2's ``cpu.max``, read first.
        v1_quota (str): cgroup v1's ``cpu.cfs_quota_us``.
        v1_period (str): cgroup v1's ``cpu.cfs_period_us``.

    Returns:
        float or None: ``quota / period``.
    """
    text = _read(cpu_max)
    if text:
        quota, _, period = text.partition(' ')
        if quota != 'max' and period:
            return int(quota) / int(period)
        return None
    quota, period = _read(v1_quota), _read(v1_period)
    if quota and period and int(quota) > 0:
        return int(quota) / int(period)
    return None


def available_cpus() -> int:
    """CPUs this process may run on: its affinity mask, capped by a cgroup
    CPU quota (rounded up), at least 1."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    quota = cgroup_cpu_quota()
    if quota is not None:
        cpus = min(cpus, math.ceil(quota))
    return max(cpus, 1)


def threads_per_process(local_processes: Optional[int] = None) -> int:
    """This process's share of :func:`available_cpus`.

    Args:
        local_processes (int, optional): Processes sharing this machine;
            defaults to ``LOCAL_WORLD_SIZE`` (set by ``torchrun`` and
            MMEngine's launchers), else 1.

    Returns:
        int: ``available_cpus() // local_processes``, at least 1.
    """
    if local_processes is None:
        local_processes = int(os.environ.get('LOCAL_WORLD_SIZE', '1'))
    return max(available_cpus() // max(local_processes, 1), 1)
