"""The namespace jail: `unshare` puts the child in new mount, pid and network namespaces, where a
short shell script rebuilds the view of the filesystem, then drops every privilege and execs
the program.

The view: the homes (the user's own from `pwd`, /root, /home) and the world-writable places
(/tmp, /var/tmp, /dev/shm, /run/lock) are covered by fresh tmpfs mounts. Into those, read-only
bind mounts put back only what the program needs: its interpreter's prefix (pyenv under /root,
a venv), the user's project; and one read-write bind puts back the run's own directory. The
project is read-only wherever it lives. A new /proc shows only the jail's processes.

Why util-linux and not bubblewrap: `unshare`, `mount` and `setpriv` are on every Linux, bubblewrap
is not. Why the covers are built aside: a tmpfs mounted over /root would hide /root/.pyenv before
it could be bound back, so each cover is filled at a staging point first and then bound over its
target (the cover holding the run's directory last, while the staging points are still visible).
All mounts are one `mount -a` over a generated table: a process per mount cost ~150 ms a run.

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


def _field(path: Path | str) -> str:
    """A path as an fstab field: whitespace and backslashes octal-escaped."""
    return "".join(f"\\{ord(ch):03o}" if ch in " \t\n\\" else ch for ch in str(path))


def fstab(work: Path, stage: Path, read_only: list[Path]) -> tuple[str, list[tuple[Path, bool]]]:
    """The jail's mounts, in order, for one `mount -a` (one exec, where a mount per line would
    cost a process each): each cover that must hold something is a tmpfs at a staging point in
    `stage` (outside `work`), filled with bind mounts while the originals are still visible, then
    bound recursively over its target; covers with nothing to hold are mounted directly."""
    covered = _outermost([*homes(), *(Path(p) for p in WRITABLE_PLACES if Path(p).is_dir())])
    covers = [Cover(c, "1777" if str(c) in WRITABLE_PLACES else "755", 64 if str(c) in WRITABLE_PLACES else 1)
              for c in covered]
    self_ro = []
    for path in dict.fromkeys((p if p.is_dir() else p.parent).resolve() for p in read_only if p.exists()):
        cover = next((c for c in covers if _under(path, c.target)), None)
        if cover:
            cover.keeps.append((path, True))
        else:
            self_ro.append(path)
    for c in covers:
        if _under(work, c.target):
            c.keeps.append((work, False))
    covers.sort(key=lambda c: _under(work, c.target))  # the one holding the run's dir goes last
    lines = []
    for i, c in enumerate(covers):
        opts = f"mode={c.mode},size={c.size_mb}m,nosuid,nodev"
        if not c.keeps:
            lines.append(f"wingman-cover {_field(c.target)} tmpfs {opts} 0 0")
            continue
        point = stage / str(i)
        lines.append(f"wingman-stage {_field(point)} tmpfs {opts},X-mount.mkdir 0 0")
        for path, ro in c.keeps:
            dest = point / path.relative_to(c.target)
            lines.append(f"{_field(path)} {_field(dest)} none bind{',ro' if ro else ''},X-mount.mkdir 0 0")
        lines.append(f"{_field(point)} {_field(c.target)} none rbind 0 0")
    for path in self_ro:
        lines.append(f"{_field(path)} {_field(path)} none bind,ro 0 0")
    lines.append("wingman-proc /proc proc nosuid,nodev,noexec 0 0")  # only the jail's processes
    expected = [(c.target, False) for c in covers] + [(p, True) for p in self_ro]
    expected += [(p, True) for c in covers for p, ro in c.keeps if ro]
    return "\n".join(lines) + "\n", expected


def check(expected: list[tuple[Path, bool]]) -> str:
    """Shell (builtins only) that exits 125 unless /proc/self/mountinfo shows each cover as our
    tmpfs and each (target, True) as read-only: `mount -a` skips a line it thinks is already
    mounted, and the jail must fail closed rather than run the program half-built."""
    q = shlex.quote
    cases, want = [], ""
    for i, (target, ro) in enumerate(expected):
        test = 'case "$opts" in ro|ro,*) v=1;; *) v=;; esac' if ro else 'case "$rest" in *"- tmpfs wingman-"*) v=1;; *) v=;; esac'
        cases.append(f"    {q(_field(target))}) {test}; m{i}=$v;;")
        want += f"$m{i}"
    return "\n".join([
        "while read -r _ _ _ _ mp opts rest; do", '  case "$mp" in', *cases, "  esac", "done < /proc/self/mountinfo",
        f'[ "{want}" = "{"1" * len(expected)}" ] || {{ echo "wingman sandbox: the jail was not built" >&2; exit 125; }}',
    ])


def _join(join: list[str]) -> str:
    """Shell that moves itself into the run's cgroup (before it forks anything): `$$` is read in
    the writer's own pid namespace, so this works as the pid namespace's init too."""
    return "".join(f"echo $$ > {shlex.quote(p)} || exit 125\n" for p in join)


def joined(argv: list[str], join: list[str]) -> list[str]:
    """`argv` in the run's cgroup, without a jail."""
    sh = (tools() or {}).get("sh") or "/bin/sh"
    return [sh, "-c", _join(join) + 'exec "$@"', "wingman-sandbox", *argv]


def command(argv: list[str], work: Path, read_only: list[Path], as_root: bool, stage: Path,
            join: list[str] = ()) -> list[str]:
    """`argv` jailed: `stage` is an empty directory outside `work` for the mount table; `join`
    the cgroup.procs files of the run's cgroup."""
    t = tools() or {}
    table = stage / "fstab"
    text, expected = fstab(work.resolve(), stage, read_only)
    table.write_text(text)
    drop = [t.get("setpriv", "setpriv"), "--no-new-privs", "--bounding-set=-all", "--inh-caps=-all"]
    if as_root:
        drop += [f"--reuid={NOBODY_UID}", f"--regid={NOBODY_GID}", "--clear-groups"]
    setup = (_join(list(join)) + f"{t.get('mount', 'mount')} -a -T {shlex.quote(str(table))} || exit 125\n{check(expected)}\n"
             f"exec {' '.join(drop)} -- \"$@\"")
    return [*prefix(as_root), t.get("sh", "/bin/sh"), "-c", setup, "wingman-sandbox", *argv]


@functools.lru_cache(maxsize=None)
def works() -> tuple[bool, str]:
    """Whether the jail can be built here, tried once for real: (ok, reason when not)."""
    if os.name != "posix" or not Path("/proc/self/ns/mnt").exists():
        return False, "not a Linux system"
    if tools() is None:
        return False, "util-linux (unshare, mount, setpriv) is not installed"
    import tempfile

    as_root = os.geteuid() == 0
    with tempfile.TemporaryDirectory(prefix="wingman-sandbox-probe-") as tmp, \
            tempfile.TemporaryDirectory(prefix="wingman-sandbox-stage-") as stage:
        work = Path(tmp)
        if as_root:
            os.chown(work, NOBODY_UID, NOBODY_GID)
        cmd = command(["/bin/sh", "-c", "test ! -e /proc/2 && echo ok > probe"], work, [], as_root, Path(stage))
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=20, cwd=work, env={"PATH": "/usr/bin:/bin"})
        except (OSError, subprocess.SubprocessError) as exc:
            return False, f"unshare failed: {exc}"
        if r.returncode != 0 or not (work / "probe").is_file():
            why = (r.stderr.strip().splitlines() or [f"exit status {r.returncode}"])[-1]
            return False, f"namespaces are not permitted here ({why})"
    return True, ""
