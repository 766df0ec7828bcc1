"""CPU time, for the benchmarks to tell how much of the machine other processes took."""

from __future__ import annotations

import os


def busy_seconds() -> float:
    """CPU time used on this machine by everything (/proc/stat; 0 where there is none)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq = fields[:7]
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def own_seconds() -> float:
    """CPU time used by this process and its children that have ended."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system
