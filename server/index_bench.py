"""The workspace index under bad input, for `wingman bench --context`: a huge workspace
(50k files), a symlink loop, binary and unreadable files, files deleted while it walks. It must
stay bounded in memory, skip what it cannot read, and finish."""

from __future__ import annotations

import os
import tempfile
import threading
import tracemalloc
from pathlib import Path

from server.repo_index import RepoIndex


def measure(n_files: int = 50_000) -> dict:
    with tempfile.TemporaryDirectory(prefix="wingman-index-bench-") as tmp:
        root = Path(tmp)
        for i in range(n_files):
            d = root / f"pkg{i % 500}" / f"sub{i % 7}"
            d.mkdir(parents=True, exist_ok=True)
            (d / f"mod{i}.py").write_text(f"def f{i}(x):\n    return x + {i}\n")
        os.symlink(root, root / "pkg0" / "loop")  # a symlink loop
        (root / "blob.py").write_bytes(b"\x00\xff" * 5000)  # binary
        (root / "locked.py").write_text("x = 1\n")
        (root / "locked.py").chmod(0)  # unreadable (unless root)
        tracemalloc.start()
        index = RepoIndex(root)
        # Files deleted while the walk runs.
        doomed = [root / f"pkg{k}" / f"sub{k % 7}" / f"mod{k}.py" for k in range(499, n_files, 997)]
        killer = threading.Thread(target=lambda: [p.unlink(missing_ok=True) for p in doomed])
        index.start()
        killer.start()
        index.done.wait(600)
        killer.join()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        reads = {"binary": index.read("blob.py"), "unreadable": index.read("locked.py"),
                 "deleted": index.read(doomed[0].relative_to(root).as_posix())}
        (root / "locked.py").chmod(0o644)
        return {"workspace_files": n_files + 2, "files": len(index.files), "truncated": index.truncated, "scan_s": index.scan_s,
                "memory_bytes": index.memory_bytes(), "tracemalloc_peak_bytes": peak,
                "bad_input": {k: ("skipped" if v is None else "read") for k, v in reads.items()}}
