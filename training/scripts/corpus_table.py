"""The corpus table of a data run, in Markdown, from its steps' report.json (and GNU time files).

    python -m training.scripts.corpus_table runs/wingman-v2

Reads `<run>/{collect,clean,annotate,pack}/report.json` and, when present, `<run>/<step>.time`
(`/usr/bin/time -v` output: wall clock and maximum resident set).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from training.io import iter_records, read_json


def _time(path: Path) -> tuple[str, str]:
    if not path.exists():
        return "", ""
    text = path.read_text()
    wall = re.search(r"Elapsed \(wall clock\) time.*?: (\S+)", text)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    return (wall.group(1) if wall else ""), (f"{int(rss.group(1)) / 1024:.0f} MiB" if rss else "")


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def table(run: Path) -> str:
    c = read_json(run / "collect" / "report.json", {})
    k = read_json(run / "clean" / "report.json", {})
    a = read_json(run / "annotate" / "report.json", {})
    p = read_json(run / "pack" / "report.json", {})
    out = ["| step | packages | files | size / tokens | dropped (why) | wall (GNU time) | peak RSS | throughput |",
           "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    cc = c.get("counts", {})
    langs = ", ".join(f"{n} {lang}" for lang, n in sorted(c.get("languages", {}).items(), key=lambda x: -x[1]))
    why = {key.removeprefix("package_license:"): v for key, v in cc.items() if key.startswith("package_license:")}
    dropped = (f"packages: {cc.get('package_not_permissive', 0)} not permissive ({', '.join(f'{n} {x}' for x, n in why.items())}), "
               f"{cc.get('package_fetch_failed', 0)} did not download, {cc.get('package_unreadable', 0)} did not open, "
               f"{cc.get('package_no_source_files', 0)} had no source file; files: "
               f"{cc.get('over_package_cap', 0)} over the package cap, {cc.get('too_large_or_empty', 0)} too large or empty, "
               f"{cc.get('binary', 0)} binary, {cc.get('unreadable', 0)} unreadable")
    w, r = _time(run / "collect.time")
    tried = cc.get("package_ok", 0) + cc.get("package_failed", 0) + cc.get("package_not_permissive", 0)
    out.append(f"| collect | {cc.get('package_ok', 0) - cc.get('package_no_source_files', 0)} of {tried} "
               f"| {cc.get('written', 0):,} of {cc.get('seen', 0):,} seen ({langs}) | {_mb(cc.get('written_bytes', 0))} "
               f"| {dropped} | {w} | {r} | {c.get('timing', {}).get('files_per_s')} files/s |")
    kc = k.get("counts", {})
    drops = sorted(((key.removeprefix("dropped_"), v) for key, v in kc.items()
                    if key.startswith("dropped_") and not key.endswith("_bytes")), key=lambda x: -x[1])
    drop_text = ", ".join(f"{v:,} {name} ({_mb(kc.get(f'dropped_{name}_bytes', 0))})" for name, v in drops)
    drop_text += (f"; redacted: {kc.get('redacted_secrets', 0)} secrets in {kc.get('files_with_secrets', 0)} files, "
                  f"{kc.get('redacted_emails', 0)} e-mails")
    w, r = _time(run / "clean.time")
    kept_pkgs = len({rec.get("repo") for rec in iter_records(run / "clean")}) if (run / "clean").exists() else ""
    out.append(f"| clean | {kept_pkgs or ''} | {kc.get('output', 0):,} of {kc.get('input', 0):,} | "
               f"{_mb(kc.get('output_bytes', 0))}, **{kc.get('output_tokens', 0):,} tokens** | {drop_text} | {w} | {r} | "
               f"{k.get('timing', {}).get('files_per_s')} files/s |")
    ac = a.get("counts", {})
    kinds = ", ".join(f"{ac[x]:,} {x}" for x in ("fim_spm", "fim_psm", "plain", "repo_fim", "docstring_to_function",
                                                 "function_to_tests") if ac.get(x))
    w, r = _time(run / "annotate.time")
    out.append(f"| annotate | | {ac.get('files', 0):,} | {kinds} samples | {ac.get('failed_file', 0)} files failed, "
               f"{ac.get('repo_fim_no_context', 0)} repository FIM without context | {w} | {r} | "
               f"{a.get('timing', {}).get('files_per_s')} files/s |")
    w, r = _time(run / "pack.time")
    for split, s in p.get("splits", {}).items():
        m = s.get("compact", {})
        out.append(f"| pack: {split} | {len(s.get('repos', []))} | {s.get('samples', 0):,} samples | "
                   f"{s.get('sequences', 0):,} × {p.get('seq_len')} = {s.get('sequences', 0) * p.get('seq_len', 0):,} tokens, "
                   f"**{s.get('trained_tokens', 0):,} trained** | {s.get('skipped_by_keep', 0):,} left out by `keep`, "
                   f"{s.get('pad_tokens', 0):,} pad tokens | {w if split == 'train' else ''} | {r if split == 'train' else ''} | "
                   f"{m.get('tokens_per_mib', 0):,} tokens/MiB compressed, {m.get('tokens_per_transfer', 0):,} per 64 MiB |")
    return "\n".join(out)


if __name__ == "__main__":
    print(table(Path(sys.argv[1] if len(sys.argv) > 1 else "runs/wingman-v2")))
