"""The target languages' own toolchains, as a first check on a candidate translation: does it
parse / type-check / compile? Each runs in the sandbox (model-written code is input to them).

- JavaScript: `node --check`;
- TypeScript: `tsc --noEmit`, the compiler pinned in model/tasks/typescript/package-lock.json and
  installed on demand into the cache folder (`install_typescript`, or `make typescript`), never by
  `make test`;
- Java: `javac` (a bare method is checked inside a class, as the translation of a function is);
- C++: `g++ -fsyntax-only -std=c++17`;
- Rust: `rustc --crate-type lib --emit=metadata`;
- Go: `go vet` where Go is installed (not on these machines: skipped with the reason).
A toolchain that is missing gives `ToolCheck(ok=None, message=<why>)`: skipped, never passed.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from model import sandbox
from model.paths import wingman_home

TS_VERSION = "5.6.3"  # as in model/tasks/typescript/package.json; the lockfile pins its hash
TS_PACKAGE = Path(__file__).with_name("typescript")
TS_COMPILER_OPTIONS = ["--target", "es2020", "--lib", "es2020,dom", "--module", "commonjs", "--strict", "false",
                       "--skipLibCheck"]
CHECK_LIMITS = sandbox.Limits(timeout_s=30, memory_mb=2048, cpu_s=30, file_mb=64)


@dataclass
class ToolCheck:
    language: str
    tool: str  # what ran, e.g. "node --check"
    ok: bool | None  # None: skipped (the toolchain is missing)
    message: str = ""  # the first error, or why it was skipped
    seconds: float = 0.0

    @property
    def skipped(self) -> bool:
        return self.ok is None

    def describe(self) -> str:
        if self.ok is None:
            return f"{self.tool} skipped: {self.message}"
        return f"{self.tool}: " + ("ok" if self.ok else self.message)


# ---------------------------------------------------------------- finding the tools


def typescript_dir() -> Path:
    return wingman_home() / "toolchains" / f"typescript-{TS_VERSION}"


def typescript_tree() -> Path:
    """What the sandbox gets a copy of: tsc.js and the standard library declarations only (the
    package's 16 MB of other bundles are not needed to check)."""
    return typescript_dir() / "sandbox-tree"


def install_typescript(log=print) -> Path:
    """`npm ci` of the pinned package into the cache folder (needs npm and the registry)."""
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("installing TypeScript needs npm on PATH")
    d = typescript_dir()
    d.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(TS_PACKAGE / name, d / name)
    log(f"npm ci typescript@{TS_VERSION} into {d}")
    subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"], cwd=d, check=True, timeout=600)
    lib = d / "node_modules" / "typescript" / "lib"
    tree = typescript_tree()
    if tree.exists():
        shutil.rmtree(tree)
    (tree / "lib").mkdir(parents=True)
    shutil.copyfile(lib / "tsc.js", tree / "lib" / "tsc.js")
    for f in lib.glob("lib.*.d.ts"):
        shutil.copyfile(f, tree / "lib" / f.name)
    shutil.copyfile(d / "node_modules" / "typescript" / "package.json", tree / "package.json")
    return tree


@functools.lru_cache(maxsize=None)
def _real_rustc() -> str | None:
    """rustup's `rustc` is a proxy that needs $HOME's settings; the sandbox's HOME is empty, so run
    the toolchain's own binary."""
    rustc = shutil.which("rustc")
    if rustc is None:
        return None
    try:
        sysroot = subprocess.run([rustc, "--print", "sysroot"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    real = Path(sysroot) / "bin" / "rustc"
    return str(real) if real.is_file() else rustc


def missing(language: str) -> str | None:
    """Why `language` cannot be checked here, or None when it can."""
    need = {"javascript": "node", "java": "javac", "cpp": "g++", "rust": "rustc", "go": "go"}
    if language == "typescript":
        if shutil.which("node") is None:
            return "node not found on PATH"
        if not (typescript_tree() / "lib" / "tsc.js").is_file():
            return f"TypeScript {TS_VERSION} is not installed (run `make typescript`)"
        return None
    tool = need.get(language)
    if tool is None:
        return f"no toolchain check for {language}"
    if shutil.which(tool) is None:
        return f"{tool} not found on PATH"
    return None


# ---------------------------------------------------------------- the checks


def _first_error(text: str, file: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    for ln in lines:
        if "error" in ln.lower():
            return ln.replace(file + ":", "line ")[:300]
    return (lines[0] if lines else "failed")[:300]


_JAVA_TYPE = re.compile(r"^\s*(public\s+|final\s+|abstract\s+)*(class|interface|enum|record)\s+(\w+)", re.M)
_JAVA_IMPORTS = "import java.util.*;\nimport java.util.function.*;\nimport java.util.stream.*;\n"


def java_unit(code: str) -> tuple[str, str]:
    """(file name, text): a public type names the file; a bare method goes into a class, with the
    java.util imports a translated function usually needs."""
    m = _JAVA_TYPE.search(code)
    if m is None:
        return "Translation.java", _JAVA_IMPORTS + "class Translation {\n" + code + "\n}\n"
    public = re.search(r"^\s*public\s+(final\s+|abstract\s+)*(class|interface|enum|record)\s+(\w+)", code, re.M)
    name = public.group(3) if public else m.group(3)
    text = code if re.search(r"^\s*import\s", code, re.M) else _JAVA_IMPORTS + code
    return f"{name}.java", text


def check(language: str, code: str) -> ToolCheck:
    """Run `language`'s toolchain on `code` in the sandbox."""
    tools = {"javascript": "node --check", "typescript": "tsc --noEmit", "java": "javac", "cpp": "g++ -fsyntax-only",
             "rust": "rustc --emit=metadata", "go": "go build"}
    tool = tools.get(language, language)
    why = missing(language)
    if why is not None:
        return ToolCheck(language, tool, None, why)
    t0 = time.perf_counter()
    trees: dict = {}
    if language == "javascript":
        file, files = "candidate.js", {"candidate.js": code}
        argv = [shutil.which("node"), "--check", file]
    elif language == "typescript":
        file, files = "candidate.ts", {"candidate.ts": code}
        trees = {"tsc": typescript_tree()}
        argv = [shutil.which("node"), "tsc/lib/tsc.js", "--noEmit", "--pretty", "false", *TS_COMPILER_OPTIONS, file]
    elif language == "java":
        file, text = java_unit(code)
        files = {file: text}
        argv = [shutil.which("javac"), "-J-Xmx256m", "-J-XX:ReservedCodeCacheSize=32m", "-J-Xss1m",
                "-J-XX:-UsePerfData", "-d", "classes", "-nowarn", file]
    elif language == "cpp":
        file, files = "candidate.cpp", {"candidate.cpp": code}
        argv = [shutil.which("g++"), "-std=c++17", "-fsyntax-only", file]
    elif language == "rust":
        file, files = "candidate.rs", {"candidate.rs": code}
        # The metadata goes to /tmp: rustc's write into the sandbox directory fails with EXDEV
        # inside the jail (its temporary file and the target sit on different mounts there).
        argv = [_real_rustc(), "--edition", "2021", "--crate-type", "lib", "--emit=metadata", "-A", "warnings",
                "-o", f"/tmp/wingman-check-{uuid.uuid4().hex}.rmeta", file]
    elif language == "go":
        file, files = "main.go", {"main.go": code, "go.mod": "module candidate\n\ngo 1.21\n"}
        argv = [shutil.which("go"), "vet", "."]
    else:
        return ToolCheck(language, tool, None, f"no toolchain check for {language}")
    # The JVM reserves address space far beyond its heap: bound the heap (-Xmx) instead of RLIMIT_AS.
    limits = CHECK_LIMITS if language != "java" else sandbox.Limits(timeout_s=60, memory_mb=8192, cpu_s=60, file_mb=64)
    r = sandbox.run(argv, files, limits=limits, copy_trees=trees or None)
    seconds = time.perf_counter() - t0
    if r.timed_out:
        return ToolCheck(language, tool, False, "the check ran out of time", seconds)
    if r.returncode != 0:
        return ToolCheck(language, tool, False, _first_error(r.stdout + "\n" + r.stderr, file), seconds)
    return ToolCheck(language, tool, True, "", seconds)
