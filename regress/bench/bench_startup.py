#!/usr/bin/python3
"""make bench: start-to-exit time of `podrunner run` for a trivial Python
script, against bare /usr/bin/python3 on the same script and against
bubblewrap with comparable isolation (new namespaces, a tmpfs root with
/usr read-only, fresh /proc, minimal /dev, private /tmp), all measured in
the same run, interleaved so that machine noise hits each alike.

Prints medians and what each adds over bare python3, in wall time and
in CPU time (user + system of every process of the run, from wait4(2):
on a machine with few CPUs, what a run costs in CPU bounds what it can
take in wall time; not for bwrap, whose rusage lacks what ran in its pid
namespace); asserts nothing about time.  Targets (issue 5): every layer on,
the median adds under 10 ms over bare python3; with the audit off, no
more than bubblewrap's overhead.
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
N = int(os.environ.get("BENCH_N", "30"))


def timed(cmd):
    """Wall time and CPU time (user + system, of the whole tree: every
    process of a run is waited for by its parent, so its rusage adds up
    in the command's), both in ms."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit("bench_startup: %s exited %d" % (cmd[0], p.returncode))
    return dt * 1000, (ru.ru_utime + ru.ru_stime) * 1000


def main():
    with tempfile.TemporaryDirectory() as d:
        os.chmod(d, 0o755)
        script = os.path.join(d, "trivial.py")
        with open(script, "w") as f:
            f.write("print('hi')\n")
        os.chmod(script, 0o644)
        noaudit = os.path.join(d, "noaudit.json")
        with open(noaudit, "w") as f:
            f.write('{"version": 1, "audit": {"enabled": false}}\n')
        cmds = {
            "python3": ["/usr/bin/python3", script],
            "podrunner": [os.path.join(ROOT, "podrunner"), "run", script],
            "podrunner, audit off": [os.path.join(ROOT, "podrunner"), "run",
                                     "--policy", noaudit, script],
            "podrunner --no-sandbox": [os.path.join(ROOT, "podrunner"),
                                       "run", "--no-sandbox", script],
        }
        if shutil.which("bwrap"):
            cmds["bwrap"] = [
                "bwrap", "--unshare-all", "--die-with-parent",
                "--tmpfs", "/", "--ro-bind", "/usr", "/usr",
                "--symlink", "usr/lib", "/lib",
                "--symlink", "usr/lib64", "/lib64",
                "--symlink", "usr/bin", "/bin",
                "--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache",
                "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
                "--ro-bind", script, script,
                "/usr/bin/python3", script]
        times = {k: [] for k in cmds}
        cpu = {k: [] for k in cmds}
        for k, c in cmds.items():	# warm caches
            timed(c)
        for _ in range(N):
            for k, c in cmds.items():
                wall, used = timed(c)
                times[k].append(wall)
                cpu[k].append(used)
    base = statistics.median(times["python3"])
    cbase = statistics.median(cpu["python3"])
    print("start-to-exit of a trivial script, %d runs each (median, ms); "
          "CPU: user + system of the whole tree, on %d CPUs" %
          (N, os.cpu_count()))
    for k in cmds:
        m = statistics.median(times[k])
        line = "  %-24s %7.1f ms   %+6.1f ms over python3" % (k, m, m - base)
        # bwrap does not wait for what runs in its pid namespace: the
        # script's CPU time never reaches its rusage.
        if k != "bwrap":
            c = statistics.median(cpu[k])
            line += "   CPU %6.1f ms (%+.1f)" % (c, c - cbase)
        print(line)
    pr = statistics.median(times["podrunner"]) - base
    print("  target: podrunner adds < 10 ms: %s" %
          ("met" if pr < 10 else "NOT met (%.1f ms)" % pr))
    if "bwrap" in times:
        bw = statistics.median(times["bwrap"]) - base
        print("  bubblewrap adds %.1f ms; podrunner / bubblewrap overhead: "
              "%.1fx" % (bw, pr / bw if bw > 0 else float("inf")))
        na = statistics.median(times["podrunner, audit off"]) - base
        print("  target: audit off adds no more than bubblewrap: %s" %
              ("met" if na <= bw else "NOT met (%+.1f ms against %+.1f ms)"
               % (na, bw)))


if __name__ == "__main__":
    main()
