"""Median of 20: a sandboxed `python -c pass` against a plain subprocess, interleaved in one run
(`PYTHONPATH=$PWD python bench/sandbox_overhead.py`);
wall time and the CPU time (user+sys) of the processes each started."""
import resource, statistics, subprocess, sys, time
from model import sandbox

exe = sandbox.python_executable()

def timed(f):
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN); s0 = resource.getrusage(resource.RUSAGE_SELF); t = time.perf_counter()
    f()
    w = time.perf_counter() - t; c1 = resource.getrusage(resource.RUSAGE_CHILDREN); s1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime) + (s1.ru_utime - s0.ru_utime) + (s1.ru_stime - s0.ru_stime)
    return w * 1000, cpu * 1000

def boxed():
    r = sandbox.run([exe, "-c", "pass"]); assert r.ok, r.stderr

boxed()  # the probes run once per process
rows = {"plain": [], "sandboxed": []}
for _ in range(20):
    rows["plain"].append(timed(lambda: subprocess.run([exe, "-c", "pass"], check=True)))
    rows["sandboxed"].append(timed(boxed))
med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in rows.items()}
for k, (w, c) in med.items():
    print(f"{k:10s} wall {w:6.1f} ms   cpu {c:6.1f} ms")
print(f"overhead   wall {med['sandboxed'][0] - med['plain'][0]:6.1f} ms   cpu {med['sandboxed'][1] - med['plain'][1]:6.1f} ms (median of 20)")
