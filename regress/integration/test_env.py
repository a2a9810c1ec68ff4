"""
Environment scrubbing: the worker sees PYTHONUNBUFFERED=1, a PATH, the
variables --allow-env lets through, and nothing else; never a POD_*
variable, never the runtime's own PODSHM_LIB.

Each case is podrunner's environment, its flags, and what must (and
must not) reach the script.  The script reports os.environ (what user
code sees) and /proc/self/environ (what the worker was started with).
"""

import json

import pytest

from conftest import Case, run_case

DUMP = """\
import json, os
with open("/proc/self/environ", "rb") as f:
    initial = [e.split(b"=", 1)[0].decode() for e in f.read().split(b"\\0") if e]
print(json.dumps({"environ": dict(os.environ), "initial": initial}))
"""

SH_DUMP = """\
#!/bin/sh
env
"""

HOST = {
    "PATH": "/custom/bin:/usr/bin:/bin",
    "POD_ALLOW_NET": "example.com",
    "POD_SECRET": "pod-secret",
    "POD_X": "pod-x",
    "SECRET": "hunter2",
    "FOO": "foo",
    "FOO_A": "a",
    "FOO_B": "b",
    "FOOBAR": "foobar",
    "BAR": "bar",
    "HOME": "/root",
    "PODSHM_LIB": "/host/libpodshm.so",
    "LD_PRELOAD": "",
}

# What the runtime may add of its own besides PYTHONUNBUFFERED and PATH
# (DESIGN.md: proxy variables pointing at the pod's proxy), and what
# python3 itself adds to os.environ (PEP 538 locale coercion).
RUNTIME_OWN = {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy",
               "https_proxy", "all_proxy", "NO_PROXY", "no_proxy"}
PYTHON_OWN = {"LC_CTYPE"}


def env_case(name, flags=(), present=(), absent=(), path_is_host=False,
             exact=None):
    """
    present: names that must reach the script with HOST's value;
    absent: names that must not; exact: the complete set of names the
    script may see (plus RUNTIME_OWN / PYTHON_OWN).
    """
    def check(r, _path):
        lines = [l for l in r.out.splitlines() if l.startswith("{")]
        assert lines, r.describe()
        doc = json.loads(lines[-1])
        env, initial = doc["environ"], doc["initial"]
        ctx = f"worker environment: {env}\ninitial: {initial}\n" \
              f"{r.describe()}"
        assert env.get("PYTHONUNBUFFERED") == "1", ctx
        assert env.get("PATH"), ctx
        if path_is_host:
            assert env["PATH"] == HOST["PATH"], ctx
        else:
            # A clean default, not podrunner's own PATH.
            assert "/custom/bin" not in env["PATH"], ctx
        for k in present:
            assert env.get(k) == HOST[k], f"{k} missing\n{ctx}"
        for k in absent:
            assert k not in env, f"{k} reached the script\n{ctx}"
        # Never a POD_* and never PODSHM_LIB, in os.environ; never a
        # POD_* even in the initial environment of the process.
        assert not [k for k in env if k.startswith("POD_")], ctx
        assert "PODSHM_LIB" not in env, ctx
        assert not [k for k in initial if k.startswith("POD_")], ctx
        if exact is not None:
            extra = set(env) - set(exact) - {"PYTHONUNBUFFERED", "PATH"} \
                - RUNTIME_OWN - PYTHON_OWN
            assert not extra, f"unexpected variables {sorted(extra)}\n{ctx}"
            if "LC_CTYPE" in env and "LC_CTYPE" not in exact:
                assert env["LC_CTYPE"] in ("C.UTF-8", "C.utf8"), ctx
    # Reading /proc/self/environ is itself a read the hooks govern.
    return Case(name, DUMP, flags=["--allow-read=/proc"] + list(flags),
                env=HOST, check=check)


ENV_CASES = [
    env_case("default", exact=[],
             absent=["POD_ALLOW_NET", "POD_SECRET", "SECRET", "FOO", "HOME",
                     "LD_PRELOAD"]),
    env_case("allow-one", ["--allow-env=FOO"], present=["FOO"],
             absent=["FOO_A", "FOOBAR", "SECRET"], exact=["FOO"]),
    env_case("allow-list", ["--allow-env=FOO,BAR"], present=["FOO", "BAR"],
             exact=["FOO", "BAR"]),
    env_case("allow-prefix", ["--allow-env=FOO_*"],
             present=["FOO_A", "FOO_B"], absent=["FOO", "FOOBAR"],
             exact=["FOO_A", "FOO_B"]),
    env_case("allow-pod-x", ["--allow-env=POD_X"], absent=["POD_X"],
             exact=[]),
    env_case("allow-pod-prefix", ["--allow-env=POD_*"],
             absent=["POD_X", "POD_SECRET", "POD_ALLOW_NET"], exact=[]),
    env_case("allow-podshm-lib", ["--allow-env=PODSHM_LIB"],
             absent=["PODSHM_LIB"], exact=[]),
    env_case("allow-path", ["--allow-env=PATH"], path_is_host=True,
             absent=["SECRET"], exact=[]),
    env_case("allow-all-env", ["--allow-env"],
             present=["FOO", "SECRET", "HOME", "FOOBAR"], path_is_host=True,
             absent=["POD_X", "POD_SECRET", "POD_ALLOW_NET", "PODSHM_LIB"]),
    env_case("allow-star", ["--allow-env=*"], present=["FOO", "SECRET"],
             path_is_host=True, absent=["POD_X", "PODSHM_LIB"]),
    # Inside one layer a deny beats an allow.
    env_case("deny-beats-allow", ["--allow-env", "--deny-env=SECRET"],
             present=["FOO"], absent=["SECRET"], path_is_host=True),
    env_case("deny-prefix", ["--allow-env=FOO*", "--deny-env=FOO_*"],
             present=["FOO", "FOOBAR"], absent=["FOO_A", "FOO_B"],
             exact=["FOO", "FOOBAR"]),
    env_case("allow-all-flag", ["--allow-all"], present=["FOO", "SECRET"],
             path_is_host=True, absent=["POD_X", "POD_SECRET", "PODSHM_LIB"]),
]


@pytest.mark.parametrize("case", ENV_CASES, ids=[c.name for c in ENV_CASES])
def test_env(case):
    run_case(case)


def _sh_check(allowed):
    def check(r, _path):
        names = {l.split("=", 1)[0] for l in r.out.splitlines() if "=" in l}
        ctx = f"names: {sorted(names)}\n{r.describe()}"
        assert not [n for n in names if n.startswith("POD_")], ctx
        assert "SECRET" not in names and "PODSHM_LIB" not in names, ctx
        for n in allowed:
            assert n in names, ctx
        # sh adds PWD (and may add SHLVL, _) itself.
        extra = names - set(allowed) - {"PATH", "PYTHONUNBUFFERED", "PWD",
                                        "SHLVL", "_", "OLDPWD"} - RUNTIME_OWN
        assert not extra, f"unexpected {sorted(extra)}\n{ctx}"
    return check


EXEC_ENV_CASES = [
    # In a pod only granted commands exist: the dump needs env.
    Case("exec-default", SH_DUMP, suffix=".sh", mode=0o755, env=HOST,
         flags=["--allow-run=env"], check=_sh_check([])),
    Case("exec-allow-foo", SH_DUMP, suffix=".sh", mode=0o755, env=HOST,
         flags=["--allow-run=env", "--allow-env=FOO"],
         check=_sh_check(["FOO"])),
]


@pytest.mark.parametrize("case", EXEC_ENV_CASES,
                         ids=[c.name for c in EXEC_ENV_CASES])
def test_exec_env(case):
    run_case(case)
