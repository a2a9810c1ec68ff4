"""
The policy's switches for the kernel layers (plugins) and the limits the
cgroup does not cover (rlimits).  A layer is never off silently: the
policy turns it off and podrunner says so, or podrunner refuses.
"""
import json
import os
import tempfile

from conftest import (EXIT_FAILURE, assert_clean, podrunner, write_script)

SHOW = 'import resource\n' \
    'print("core", resource.getrlimit(resource.RLIMIT_CORE)[1])\n' \
    'print("nofile", resource.getrlimit(resource.RLIMIT_NOFILE)[1])\n'


def _policy(doc):
    fd, path = tempfile.mkstemp(suffix=".json", dir="/var/tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f)
    os.chmod(path, 0o644)
    return path


def test_namespaces_off_refused():
    """plugins.namespaces false: refused (125) with a reason, nothing
    left; fails if podrunner ran the worker without its namespaces or
    hung waiting for a pod that never came."""
    path = _policy({"version": 1, "plugins": {"namespaces": False}})
    r = podrunner("run", "--policy", path, write_script('print("ran")\n'))
    os.unlink(path)
    assert r.status == EXIT_FAILURE, r.describe()
    assert b"ran" not in r.stdout, r.describe()
    assert "plugins.namespaces" in r.stderr, r.describe()
    assert_clean(what="after a refused pod")


def test_landlock_off_is_said():
    """plugins.landlock false: the pod runs and stderr says landlock is
    off; fails if the degradation is silent."""
    path = _policy({"version": 1, "plugins": {"landlock": False}})
    r = podrunner("run", "--policy", path, write_script('print("ran")\n'))
    os.unlink(path)
    assert r.status == 0 and r.stdout == b"ran\n", r.describe()
    assert "landlock off" in r.stderr, r.describe()


def test_default_says_nothing_off():
    """With the default policy no layer is reported off; fails if a
    layer were off by default."""
    r = podrunner("run", write_script('print("ran")\n'))
    assert r.status == 0, r.describe()
    assert " off:" not in r.stderr, r.describe()


def test_rlimits():
    """No core files and a bound on open files inside the pod; fails if
    pod init does not lower them."""
    r = podrunner("run", write_script(SHOW))
    assert r.status == 0, r.describe()
    assert b"core 0\n" in r.stdout, r.describe()
    assert b"nofile 4096\n" in r.stdout, r.describe()
