import os
import socket
import sys
import threading

import pytest

from model import sandbox


def py(code: str, **kw):
    return sandbox.run([sys.executable, "main.py"], {"main.py": code}, **kw)


def test_runs_in_a_fresh_directory_and_reads_files_back():
    r = py("import os\nopen('out.txt', 'w').write(os.getcwd())\nprint('hi')", read_back=["out.txt"])
    assert r.ok and r.stdout.strip() == "hi"
    assert "wingman-sandbox-" in r.files["out.txt"]
    assert not os.path.exists(r.files["out.txt"])  # removed afterwards


def test_timeout_kills_the_process_group():
    code = "import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', 'while True: pass'])\nwhile True: pass\n"
    r = py(code, limits=sandbox.Limits(timeout_s=1.5, cpu_s=30))
    assert r.timed_out and not r.ok


def test_memory_limit():
    r = py("x = bytearray(1500 * 1024 * 1024)\nprint('allocated')", limits=sandbox.Limits(memory_mb=300))
    assert not r.ok and "allocated" not in r.stdout and "MemoryError" in r.stderr


def test_file_size_limit():
    r = py("open('big', 'wb').write(b'x' * (3 * 1024 * 1024))\nprint('wrote')", limits=sandbox.Limits(file_mb=1))
    assert not r.ok and "wrote" not in r.stdout


def test_environment_is_scrubbed(monkeypatch):
    monkeypatch.setenv("WINGMAN_TEST_SECRET", "hunter2")
    r = py("import os\nprint(sorted(os.environ))\nprint(os.environ.get('WINGMAN_TEST_SECRET'))")
    assert r.ok and "hunter2" not in r.stdout and "WINGMAN_TEST_SECRET" not in r.stdout


@pytest.mark.skipif(not sandbox.network_prefix(), reason="no network namespace on this machine")
def test_network_is_cut_off():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    port = server.getsockname()[1]
    accepted = []
    t = threading.Thread(target=lambda: [accepted.append(server.accept()[0]) for _ in range(1)], daemon=True)
    t.start()
    code = f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=5)\n    print('connected')\n" \
           f"except OSError as e:\n    print('refused', e)\n"
    cut = py(code)
    assert cut.ok and cut.stdout.startswith("refused")
    control = py(code, network=True)  # the same program with the network left on does connect
    assert control.stdout.startswith("connected")
    t.join(5)
    server.close()
    for c in accepted:
        c.close()


@pytest.mark.skipif(os.geteuid() != 0 or not sandbox.node_executable(), reason="needs root and node")
def test_node_drops_to_nobody_when_it_can():
    if not sandbox.can_drop_to_nobody(sandbox.node_executable()):
        pytest.skip("node is not executable by nobody here")
    r = sandbox.run([sandbox.node_executable(), "main.js"], {"main.js": "console.log(process.getuid())"})
    assert r.ok and r.stdout.strip() == str(sandbox.NOBODY_UID)


def test_capabilities_say_what_is_enforced():
    caps = sandbox.capabilities([sys.executable])
    assert caps["timeout"] and caps["scrubbed_env"]
    assert caps["network"] == ("not enforced" if not sandbox.network_prefix() else " ".join(
        [os.path.basename(sandbox.network_prefix()[0]), *sandbox.network_prefix()[1:]]))
