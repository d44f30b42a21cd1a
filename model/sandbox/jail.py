"""The namespace jail: `unshare` puts the child in new mount, pid and network namespaces, where a
short shell script rebuilds the view of the filesystem, then drops every privilege and execs
the program.

The view: the homes (the user's own from `pwd`, /root, /home) and the world-writable places
(/tmp, /var/tmp, /dev/shm, /run/lock) are covered by fresh tmpfs mounts. Into those, read-only
bind mounts put back only what the program needs: its interpreter's prefix (pyenv under /root,
a venv), the user's project; and one read-write bind puts back the run's own directory. The
project is read-only wherever it lives. A new /proc shows only the jail's processes.

Why a script and not bubblewrap: util-linux (`unshare`, `mount`, `setpriv`) is on every Linux,
bubblewrap is not. Why the covers are built aside and then moved into place: a tmpfs mounted over
/root would hide /root/.pyenv before it could be bound back, so each cover is filled at a staging
point inside the run's directory first, and `mount --move`d over its target at the end (the cover
holding the run's directory itself last, while the staging points are still visible).

Privileges: as root the program runs as nobody (so it cannot unmount a cover or remount the
project writable, and owns nothing outside its directory); as a normal user the jail lives in a
new user namespace, and the program keeps the user's id with an empty capability bounding set.
"""

from __future__ import annotations

import functools
import os
import pwd
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

NOBODY_UID = 65534
NOBODY_GID = 65534
WRITABLE_PLACES = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")
STAGE = ".wingman-mnt"  # inside the run's directory; removed before the program starts


def homes() -> list[Path]:
    """The homes to cover: the user's own (from pwd, not $HOME), root's, and /home."""
    found = []
    try:
        found.append(Path(pwd.getpwuid(os.getuid()).pw_dir))
    except KeyError:
        pass
    found += [Path("/root"), Path("/home")]
    return [p for p in found if p.is_dir() and p != Path("/")]


def _under(path: Path, top: Path) -> bool:
    return path == top or top in path.parents


def _outermost(paths: list[Path]) -> list[Path]:
    """Drop paths that lie inside another one of them (/home/alice under /home)."""
    real = list(dict.fromkeys(p.resolve() for p in paths))
    return [p for p in real if not any(q != p and _under(p, q) for q in real)]


@dataclass
class Cover:
    target: Path
    mode: str
    size_mb: int
    keeps: list[tuple[Path, bool]] = field(default_factory=list)  # (path inside target, read-only)


def exposures(executable: str) -> list[Path]:
    """What the program's executable needs readable: the prefix it lives in (`bin/..`), the one
    its symlinks resolve into, and a venv's base interpreter (pyvenv.cfg `home`)."""
    exe = Path(shutil.which(executable) or executable).absolute()
    out = [exe.parent.parent, Path(os.path.realpath(exe)).parent.parent]
    cfg = exe.parent.parent / "pyvenv.cfg"
    if cfg.is_file():
        for line in cfg.read_text(errors="replace").splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home" and value.strip():
                home = Path(value.strip())
                out += [home.parent, Path(os.path.realpath(home)).parent]
    return [p for p in dict.fromkeys(out) if p.exists() and p != Path("/")]


@functools.lru_cache(maxsize=None)
def tools() -> dict[str, str] | None:
    found = {name: shutil.which(name, path="/usr/bin:/bin:/usr/sbin:/sbin") for name in ("unshare", "mount", "setpriv", "sh")}
    return found if all(found.values()) else None  # type: ignore[return-value]


def prefix(as_root: bool) -> list[str]:
    t = tools() or {}
    flags = ["--mount", "--pid", "--fork", "--net", "--kill-child"]
    if not as_root:
        flags = ["--user", "--map-root-user", *flags]
    return [t.get("unshare", "unshare"), *flags]


def script(work: Path, read_only: list[Path], as_root: bool) -> str:
    """The setup run inside the namespaces (as root there); `"$@"` is the program."""
    t = tools() or {}
    mount, setpriv = t.get("mount", "mount"), t.get("setpriv", "setpriv")
    q = shlex.quote
    work = work.resolve()
    covered = _outermost([*homes(), *(Path(p) for p in WRITABLE_PLACES if Path(p).is_dir())])
    covers = [Cover(c, "1777" if str(c) in WRITABLE_PLACES else "755", 64 if str(c) in WRITABLE_PLACES else 1)
              for c in covered]
    self_ro = []
    for path in dict.fromkeys(p.resolve() for p in read_only if p.exists()):
        cover = next((c for c in covers if _under(path, c.target)), None)
        if cover:
            cover.keeps.append((path, True))
        else:
            self_ro.append(path)
    for c in covers:
        if _under(work, c.target):
            c.keeps.append((work, False))
    covers.sort(key=lambda c: _under(work, c.target))  # the one holding the run's dir moves last
    lines = ["set -e"]
    for i, c in enumerate(covers):
        stage = work / STAGE / str(i)
        lines.append(f"mkdir -p {q(str(stage))}")
        lines.append(f"{mount} -t tmpfs -o mode={c.mode},size={c.size_mb}m,nosuid,nodev wingman {q(str(stage))}")
        for path, ro in c.keeps:
            dest = stage / path.relative_to(c.target)
            make = "mkdir -p" if path.is_dir() else f"mkdir -p {q(str(dest.parent))} && touch"
            lines.append(f"{make} {q(str(dest))}")
            lines.append(f"{mount} --bind {'-o ro ' if ro else ''}{q(str(path))} {q(str(dest))}")
    for path in self_ro:
        lines.append(f"{mount} --bind -o ro {q(str(path))} {q(str(path))}")
    for i, c in enumerate(covers):
        lines.append(f"{mount} --move {q(str(work / STAGE / str(i)))} {q(str(c.target))}")
    lines.append(f"{mount} -t proc -o nosuid,nodev,noexec proc /proc")
    lines.append(f"rm -rf {q(str(work / STAGE))}")
    drop = [setpriv, "--no-new-privs", "--bounding-set=-all", "--inh-caps=-all"]
    if as_root:
        drop += [f"--reuid={NOBODY_UID}", f"--regid={NOBODY_GID}", "--clear-groups"]
    lines.append("cd \"$WINGMAN_SANDBOX_CWD\" && unset WINGMAN_SANDBOX_CWD")
    lines.append(f"exec {' '.join(drop)} -- \"$@\"")
    return "\n".join(lines)


def command(argv: list[str], work: Path, read_only: list[Path], as_root: bool) -> list[str]:
    sh = (tools() or {}).get("sh", "/bin/sh")
    return [*prefix(as_root), sh, "-c", script(work, read_only, as_root), "wingman-sandbox", *argv]


@functools.lru_cache(maxsize=None)
def works() -> tuple[bool, str]:
    """Whether the jail can be built here, tried once for real: (ok, reason when not)."""
    if os.name != "posix" or not Path("/proc/self/ns/mnt").exists():
        return False, "not a Linux system"
    if tools() is None:
        return False, "util-linux (unshare, mount, setpriv) is not installed"
    import tempfile

    as_root = os.geteuid() == 0
    with tempfile.TemporaryDirectory(prefix="wingman-sandbox-probe-") as tmp:
        work = Path(tmp)
        if as_root:
            os.chown(work, NOBODY_UID, NOBODY_GID)
        cmd = command(["/bin/sh", "-c", "test ! -e /proc/2 && echo ok > probe"], work, [], as_root)
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=20, cwd="/",
                               env={"PATH": "/usr/bin:/bin", "WINGMAN_SANDBOX_CWD": str(work)})
        except (OSError, subprocess.SubprocessError) as exc:
            return False, f"unshare failed: {exc}"
        if r.returncode != 0 or not (work / "probe").is_file():
            why = (r.stderr.strip().splitlines() or [f"exit status {r.returncode}"])[-1]
            return False, f"namespaces are not permitted here ({why})"
    return True, ""
