"""The sandbox's guarantees, one test each. Each test runs a hostile program and checks that it
was contained, then runs a control with that guarantee's mechanism switched off
(`sandbox.DISABLED`) and checks that the same program then does escape: so each test fails when
its guarantee is removed. Where this machine cannot enforce a guarantee, its test skips saying why."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from model import sandbox

ENFORCED, HOW = sandbox.plan()


def _accept(server: socket.socket, accepted: list) -> None:
    """Accept connections until the test closes the listener."""
    try:
        while True:
            accepted.append(server.accept()[0])
    except OSError:
        pass


@pytest.fixture
def loopback_port():
    """A listener on 127.0.0.1 outside the sandbox that accepts anything: its port."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list = []
    threading.Thread(target=_accept, args=(server, accepted), daemon=True).start()
    yield server.getsockname()[1]
    server.close()
    for c in accepted:
        c.close()


def py(code: str, **kw) -> sandbox.RunResult:
    return sandbox.run([sys.executable, "main.py"], {"main.py": code}, **kw)


def needs(*names: str):
    missing = [n for n in names if not ENFORCED[n]]
    return pytest.mark.skipif(bool(missing), reason="; ".join(f"{n} not enforced here: {HOW[n]}" for n in missing))


@pytest.fixture
def without(monkeypatch):
    """Switch sandbox mechanisms off for a control run."""
    def off(*mechanisms: str):
        monkeypatch.setattr(sandbox, "DISABLED", set(mechanisms))
    return off


def test_runs_in_a_fresh_directory_and_reads_files_back():
    r = py("import os\nopen('out.txt', 'w').write(os.getcwd())\nprint('hi')", read_back=["out.txt"])
    assert r.ok and r.stdout.strip() == "hi", r.stderr
    assert "wingman-sandbox-" in r.files["out.txt"]
    assert not os.path.exists(r.files["out.txt"])  # removed afterwards


def test_read_back_does_not_follow_what_the_program_left(tmp_path):
    """The parent reads files back outside the jail: a symlink planted in place of the report
    (to a secret outside) must not be followed."""
    secret = tmp_path / "outside-secret"
    secret.write_text("the user's secret")
    code = (f"import os\nos.symlink({str(secret)!r}, 'report.xml')\nos.mkdir('d')\n"
            f"os.symlink({str(tmp_path)!r}, 'd/up')\nopen('ok.txt', 'w').write('fine')\n")
    r = py(code, read_back=["report.xml", "d/up/outside-secret", "ok.txt"])
    assert r.ok, r.stderr
    assert r.files == {"ok.txt": "fine"}


def test_environment_is_scrubbed(monkeypatch, without):
    monkeypatch.setenv("WINGMAN_TEST_SECRET", "hunter2")
    code = "import os\nprint(sorted(os.environ))\nprint(os.environ.get('WINGMAN_TEST_SECRET'))"
    r = py(code)
    assert r.ok and "hunter2" not in r.stdout and "WINGMAN_TEST_SECRET" not in r.stdout, r.stderr
    without("scrub")
    assert "hunter2" in py(code).stdout


@needs("home")
def test_the_users_home_is_hidden(without):
    home = Path(pwd.getpwuid(os.getuid()).pw_dir)  # the real home, not $HOME
    planted = home / f".wingman-sandbox-test-{uuid.uuid4().hex}"
    planted.write_text("the user's secret")
    code = (f"import os\nprint(os.listdir({str(home)!r}))\n"
            f"try:\n    print(open({str(planted)!r}).read())\nexcept OSError as e:\n    print('no', e.errno)\n")
    try:
        r = py(code)
        assert r.ok and "the user's secret" not in r.stdout and planted.name not in r.stdout, r.stdout + r.stderr
        without("jail")
        assert "the user's secret" in py(code).stdout
    finally:
        planted.unlink()


@needs("home", "writes")
def test_the_program_cannot_undo_the_jail(without):
    """With the privileges it was started with, a program could unmount the cover of the home or
    remount the project writable; it runs without them."""
    home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    planted = home / f".wingman-sandbox-test-{uuid.uuid4().hex}"
    planted.write_text("the user's secret")
    umount = shutil.which("umount") or "/usr/bin/umount"
    code = (f"import os, subprocess\nsubprocess.run([{umount!r}, '-l', {str(home)!r}])\n"
            f"try:\n    print(open({str(planted)!r}).read())\nexcept OSError as e:\n    print('no', e.errno)\n")
    try:
        r = py(code)
        assert r.ok and "the user's secret" not in r.stdout, r.stdout + r.stderr
        without("drop")
        assert "the user's secret" in py(code).stdout
    finally:
        planted.unlink()


@needs("writes")
def test_writes_outside_the_directory_fail_and_the_project_is_read_only(tmp_path, without):
    project = tmp_path / "project"
    project.mkdir()
    (project / "a.py").write_text("X = 1\n")
    marker = f"wingman-sandbox-test-{uuid.uuid4().hex}"
    home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    tmp = Path(tempfile.gettempdir())  # the run's directory lies here (`..` must still be the cover)
    targets = {str(p): p for p in [project / "a.py", project / "new.py", tmp / marker, Path("/var/tmp") / marker,
                                   Path("/dev/shm") / marker, home / marker] if p.parent.is_dir()}
    targets[f"../{marker}-sideways"] = tmp / f"{marker}-sideways"
    code = (f"print('read', open({str(project / 'a.py')!r}).read().strip())\n"
            f"for t in {list(targets)!r}:\n"
            "    try:\n        open(t, 'a').write('escaped')\n        print('wrote', t)\n"
            "    except OSError as e:\n        print('refused', t, e.errno)\n")

    def escaped() -> list[Path]:
        return [p for p in targets.values() if p.exists() and "escaped" in p.read_text()]

    try:
        r = py(code, project=project)
        assert r.ok and "read X = 1" in r.stdout, r.stdout + r.stderr  # readable at its own path
        assert escaped() == [], r.stdout  # /tmp and the like are private there, and discarded
        without("jail")
        control = py(code, project=project)
        assert escaped(), control.stdout + control.stderr
    finally:
        (project / "a.py").write_text("X = 1\n")
        for p in list(targets.values())[1:]:
            p.unlink(missing_ok=True)


@needs("network")
def test_network_is_cut_off(without, loopback_port):
    code = (f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {loopback_port}), timeout=5)\n"
            "    print('connected')\nexcept OSError as e:\n    print('refused', e)\n")
    cut = py(code)
    assert cut.ok and cut.stdout.startswith("refused"), cut.stdout + cut.stderr
    assert py(code, network=True).stdout.startswith("connected")  # the caller may allow it
    without("jail")
    assert py(code).stdout.startswith("connected")


@needs("network")
def test_local_sockets_are_out_of_reach(without):
    """A Unix socket that anyone may connect to (D-Bus, docker, a local database live in /run)
    is a way out of the network namespace."""
    place = Path("/run")
    if not place.is_dir():
        pytest.skip("no /run here")
    path = place / f"wingman-sandbox-test-{uuid.uuid4().hex[:8]}.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    path.chmod(0o777)
    server.listen(4)
    accepted = []
    threading.Thread(target=_accept, args=(server, accepted), daemon=True).start()
    code = (f"import socket\ns = socket.socket(socket.AF_UNIX)\ntry:\n    s.connect({str(path)!r})\n"
            "    print('connected')\nexcept OSError as e:\n    print('refused', e.errno)\n")
    try:
        r = py(code)
        assert r.ok and r.stdout.startswith("refused"), r.stdout + r.stderr
        without("jail")
        assert py(code).stdout.startswith("connected")
    finally:
        server.close()
        path.unlink()
        for c in accepted:
            c.close()


FORK = """import os, time
n = 0
for _ in range(200):
    try:
        if os.fork() == 0:
            time.sleep(20)
            os._exit(0)
        n += 1
    except OSError:
        break
print('forked', n)
"""


@needs("processes")
def test_fork_bomb_is_bounded(without):
    r = py(FORK, limits=sandbox.Limits(processes=32, timeout_s=30))
    n = int(r.stdout.split()[-1])
    assert n < 32, r.stdout
    without("cgroup")  # RLIMIT_NPROC alone still bounds it (nobody's, or the user's, processes)
    if sandbox.plan()[0]["processes"]:
        assert int(py(FORK, limits=sandbox.Limits(processes=32, timeout_s=30)).stdout.split()[-1]) < 32
    without("cgroup", "rlimits")
    assert py(FORK, limits=sandbox.Limits(processes=32, timeout_s=30)).stdout.split()[-1] == "200"


PY_HOG = """chunks = []
for i in range(8):
    chunks.append(b'x' * (100 << 20))  # written, so resident
print('allocated', len(chunks) * 100)
"""
JS_HOG = """const chunks = [];
for (let i = 0; i < 8; i++) chunks.push(Buffer.alloc(100 << 20, 1));  // outside V8's heap
console.log('allocated', chunks.length * 100);
"""


def js(code: str, **kw) -> sandbox.RunResult:
    return sandbox.run([sandbox.node_executable(), "--max-old-space-size=128", "main.js"], {"main.js": code}, **kw)


@needs("memory")
def test_python_memory_is_bounded(without):
    r = py(PY_HOG, limits=sandbox.Limits(memory_mb=256))
    assert not r.ok and "allocated" not in r.stdout and "MemoryError" in r.stderr
    without("cgroup", "rlimits")
    assert "allocated 800" in py(PY_HOG, limits=sandbox.Limits(memory_mb=256, timeout_s=60)).stdout


@needs("memory")
@pytest.mark.skipif(not sandbox.node_executable(), reason="node is not installed")
def test_javascript_buffer_alloc_is_bounded(without):
    r = js(JS_HOG, limits=sandbox.Limits(memory_mb=256))
    assert not r.ok and "allocated" not in r.stdout, r.stdout + r.stderr
    without("cgroup", "rlimits")
    assert "allocated 800" in js(JS_HOG, limits=sandbox.Limits(memory_mb=256, timeout_s=60)).stdout


@pytest.mark.skipif(HOW["memory"].find("cgroup") < 0, reason=f"no memory cgroup here: {HOW['memory']}")
def test_the_memory_cgroup_alone_bounds_the_tree(without):
    """Without any rlimit, the tree's cgroup still stops both runtimes."""
    without("rlimits")
    r = py(PY_HOG, limits=sandbox.Limits(memory_mb=256))
    assert not r.ok and "allocated" not in r.stdout and r.memory_exceeded
    if sandbox.node_executable():
        r = js(JS_HOG, limits=sandbox.Limits(memory_mb=256))
        assert not r.ok and "allocated" not in r.stdout and r.memory_exceeded


@needs("file_size")
def test_file_size_limit(without):
    code = "open('big', 'wb').write(b'x' * (3 * 1024 * 1024))\nprint('wrote')"
    r = py(code, limits=sandbox.Limits(file_mb=1))
    assert not r.ok and "wrote" not in r.stdout
    without("rlimits")
    assert "wrote" in py(code, limits=sandbox.Limits(file_mb=1)).stdout


LOOP = "import time\nt = time.time()\nwhile time.time() - t < 2.5:\n    pass\nprint('finished')\n"


def test_a_loop_is_stopped_by_the_timeout(without):
    r = py(LOOP, limits=sandbox.Limits(timeout_s=0.7, cpu_s=30))
    assert r.timed_out and not r.ok and "finished" not in r.stdout and r.duration_s < 2
    without("timeout")
    assert "finished" in py(LOOP, limits=sandbox.Limits(timeout_s=0.7, cpu_s=30)).stdout


def _alive(marker: str) -> list[int]:
    found = []
    for p in Path("/proc").iterdir():
        try:
            if p.name.isdigit() and marker.encode() in (p / "cmdline").read_bytes():
                found.append(int(p.name))
        except OSError:
            pass
    return found


DETACH = """import subprocess, sys
subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', '{marker}'], start_new_session=True)
while True:
    pass
"""


@pytest.mark.skipif(not (ENFORCED["home"] or "cgroup" in HOW["memory"]), reason="neither a pid namespace nor a cgroup")
def test_the_timeout_kills_detached_children_too(without):
    marker = f"wingman-sandbox-test-{uuid.uuid4().hex}"
    r = py(DETACH.format(marker=marker), limits=sandbox.Limits(timeout_s=1, cpu_s=30))
    assert r.timed_out
    deadline = time.monotonic() + 30  # a hang guard: the kill is immediate, a loaded machine is slow to show it
    while _alive(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _alive(marker) == []
    without("jail", "cgroup")  # only the process group is killed then: the setsid child survives
    py(DETACH.format(marker=marker), limits=sandbox.Limits(timeout_s=1, cpu_s=30))
    survivors = _alive(marker)
    for pid in survivors:
        os.kill(pid, 9)
    assert survivors


def test_what_was_not_enforced_is_said(without):
    without("jail", "cgroup")
    r = py("print('ran')")
    assert r.ok and r.stdout.strip() == "ran"
    assert not r.enforced["home"] and not r.enforced["network"] and r.enforced["cpu"]
    assert r.missing.startswith("The sandbox could not enforce ") and "no network (disabled)" in r.missing
    assert sandbox.missing_sentence({"cpu": True}) == ""


def test_capabilities_report_the_plan():
    caps = sandbox.capabilities([sys.executable])
    assert caps["enforced"] == ENFORCED and caps["timeout"] and caps["scrubbed_env"]
    assert caps["network"] == (HOW["network"] if ENFORCED["network"] else "not enforced")


def test_a_half_built_jail_fails_closed():
    """The jail's own check refuses to run the program when a mount is not as planned: here, a
    cover that is not our tmpfs and a path that is not read-only."""
    import subprocess

    from model.sandbox import jail

    for expected in ([(Path("/"), False)], [(Path("/proc"), True)]):
        r = subprocess.run(["/bin/sh", "-c", jail.check(expected) + "\necho ran"], capture_output=True, text=True)
        assert r.returncode == 125 and "ran" not in r.stdout and jail.NOT_BUILT in r.stderr


def test_the_interpreter_is_the_configured_one_then_the_workspace_venv_then_wingmans(tmp_path):
    ws = tmp_path / "ws"
    (ws / ".venv" / "bin").mkdir(parents=True)
    assert sandbox.interpreter(ws, None).source == "wingman"  # no pyvenv.cfg: not a venv
    (ws / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    exe = ws / ".venv" / "bin" / "python"
    exe.symlink_to(sys.executable)
    got = sandbox.interpreter(ws, None)
    assert (got.path, got.source) == (str(exe), "workspace") and "project's interpreter" in got.sentence
    assert sandbox.interpreter(ws, sys.executable) == sandbox.Interpreter(sys.executable, "configured")
    assert sandbox.interpreter(ws, ".venv").path == str(exe)  # a venv folder, relative to the workspace
    assert sandbox.interpreter(None, None) == sandbox.Interpreter(sys.executable, "wingman")
    with pytest.raises(ValueError, match="not an executable"):
        sandbox.interpreter(ws, str(tmp_path / "missing" / "python"))


def test_a_workspace_venv_imports_its_own_site_packages_read_only(tmp_path):
    """A real venv of the project (under a covered /tmp here, as a user's would be under the
    covered home): its packages import in the sandbox, and cannot be changed from there."""
    import subprocess
    import sysconfig

    ws = tmp_path / "ws"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(ws / ".venv")], check=True)
    chosen = sandbox.interpreter(ws, None)
    assert chosen.source == "workspace"
    purelib = subprocess.run([chosen.path, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    (Path(purelib) / "wingman_probe_dep.py").write_text("VALUE = 42\n")
    code = ("import sys, wingman_probe_dep\nprint(sys.prefix, wingman_probe_dep.VALUE)\n"
            "try:\n    open(wingman_probe_dep.__file__, 'a').write('x')\n    print('changed')\n"
            "except OSError as e:\n    print('read-only', e.errno)\n")
    r = sandbox.run([chosen.path, "main.py"], {"main.py": code}, project=ws)
    assert r.ok, r.stderr
    assert r.stdout.split()[:2] == [str(ws / ".venv"), "42"]
    if r.enforced["writes"]:
        assert "read-only" in r.stdout and (Path(purelib) / "wingman_probe_dep.py").read_text() == "VALUE = 42\n"
    assert sysconfig.get_path("purelib") != purelib  # it really was the project's, not Wingman's


# The leaks the never-die fuzz session found in the old sandbox (issue "Never die"), as they were.
SETNS = """import ctypes, glob, os, socket
libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
joined = []
for path in [f'/proc/{{os.getppid()}}/ns/net', '/proc/1/ns/net', *glob.glob('/proc/[0-9]*/ns/net')]:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        continue
    if libc.setns(fd, CLONE_NEWNET) == 0:
        joined.append(path)  # the parent's namespace comes first: stop there
    os.close(fd)
    if joined:
        break
try:
    socket.create_connection(('127.0.0.1', {port}), timeout=3)
    print('connected via', joined)
except OSError as e:
    print('refused', e.errno, joined)
"""


@needs("network")
def test_no_setns_escape_into_the_parents_network(without, loopback_port):
    """As root, a child could join the parent's network namespace through /proc/<ppid>/ns/net."""
    code = SETNS.format(port=loopback_port)
    r = py(code)
    assert r.ok and r.stdout.startswith("refused"), r.stdout + r.stderr
    without("jail")
    assert py(code).stdout.startswith("connected")


@needs("home")
def test_no_reads_of_secrets_outside_the_directory(tmp_path, without):
    """A private key beside the project (not in it) and /etc/shadow stay unreadable."""
    project = tmp_path / "project"
    project.mkdir()
    key = tmp_path / "id_canary"
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY----- canary")
    key.chmod(0o600)
    code = (f"for p in [{str(key)!r}, '/etc/shadow']:\n"
            "    try:\n        print('read', p, open(p).read()[:40])\n"
            "    except OSError as e:\n        print('refused', p, e.errno)\n")
    r = py(code, project=project)
    assert r.ok and "PRIVATE KEY" not in r.stdout and "read /etc/shadow" not in r.stdout, r.stdout + r.stderr
    without("jail")
    assert "PRIVATE KEY" in py(code, project=project).stdout
