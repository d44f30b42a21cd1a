"""`make run`'s demo, on the fake engine: it runs to the end over a real LSP session, and says
why a request showed nothing rather than calling every null "superseded"."""

import subprocess
import sys


def test_the_demo_runs_end_to_end_on_the_fake_engine():
    out = subprocess.run([sys.executable, "-m", "wingman", "demo", "--engine", "fake"], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    lines = out.stdout.splitlines()
    typed = [line for line in lines if line.strip().startswith("typed ")]
    assert len(typed) == 4 and all("superseded by the next keystroke" in line for line in typed[:3])
    assert "ghost text 'math.prod(values) ** (1 / len(values))'" in typed[3]
    assert any(line.strip().startswith("asked explicitly") and "math.prod" in line for line in lines)
    assert "== 4. Diagnostics" in out.stdout
