"""The report: report.json (everything), report.md (side by side) and plots (PNG)."""

from __future__ import annotations

import json
from pathlib import Path

# (task, metric, label, target or None, kind) — the rows of the headline table.
HEADLINE = [
    ("line", "exact_match", "Line completion EM", 0.40, "pct"),
    ("line", "edit_similarity", "Line completion edit similarity", None, "pct"),
    ("infill", "single_exact_match", "Single-line infilling EM", 0.45, "pct"),
    ("infill", "single_tests_pass", "Single-line infilling, repo tests pass", None, "pct"),
    ("infill", "multi_exact_match", "Multi-line infilling EM", None, "pct"),
    ("infill", "multi_edit_similarity", "Multi-line infilling edit similarity", None, "pct"),
    ("infill", "multi_tests_pass", "Multi-line infilling, repo tests pass", None, "pct"),
    ("humaneval", "pass@1", "HumanEval pass@1", 0.12, "pct"),
    ("tests", "runs_rate", "Generated test files that import and run", None, "pct"),
    ("tests", "tests_pass_rate", "Generated tests passing on the real function", 0.70, "pct"),
    ("tests", "mutant_kill_rate", "Mutants killed (functions)", None, "pct"),
    ("testgen", "all_pass_rate", "Verified tests: files all passing on the real function", 0.95, "pct"),
    ("testgen", "kill_rate", "Verified tests: eval mutants killed", 0.70, "pct"),
    ("testgen", "coverage", "Verified tests: line coverage of the function", 0.80, "pct"),
    ("testgen", "median_seconds", "Verified tests: median seconds per function", 10.0, "auto"),
    ("testgen", "baseline_all_pass_rate", "Unverified (today's) tests: files all passing", None, "pct"),
    ("testgen", "baseline_kill_rate", "Unverified (today's) tests: eval mutants killed", None, "pct"),
    ("testgen", "baseline_coverage", "Unverified (today's) tests: line coverage", None, "pct"),
    ("translate", "pass_rate", "Python→JavaScript, all asserts pass (one greedy sample)", None, "pct"),
    ("translate", "shown_pass_rate", "Python→JavaScript verified translation: what is shown passes", 0.40, "pct"),
    ("translate", "verified_share", "Python→JavaScript: a candidate verified", None, "pct"),
    ("translate", "verified_fail_rate", "Python→JavaScript: labelled verified yet fails the tests", 0.0, "pct"),
    ("latency", "first_p50_ms", "First completion in a file, p50", None, "ms"),
    ("latency", "keystroke_p50_ms", "Per keystroke, p50", None, "ms"),
    ("latency", "keystroke_p90_ms", "Per keystroke, p90", None, "ms"),
    ("latency", "keystroke_cached_share", "Prompt tokens reused from the KV cache", None, "pct"),
]


def fmt(value, kind: str = "auto") -> str:
    if value is None:
        return "–"
    if kind == "pct":
        return f"{100 * value:.1f}%"
    if kind == "ms":
        return f"{value:.0f} ms"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _metric(candidate: dict, task: str, metric: str):
    return candidate.get("tasks", {}).get(task, {}).get("metrics", {}).get(metric)


def comparability(report: dict) -> dict[str, bool]:
    """task -> whether every candidate that ran it was asked the same samples."""
    out = {}
    tasks = {t for c in report["candidates"] for t in c.get("tasks", {})}
    for t in sorted(tasks):
        digests = {c["tasks"][t].get("samples_digest") for c in report["candidates"] if t in c.get("tasks", {})}
        out[t] = len(digests) == 1
    return out


def markdown(report: dict) -> str:
    cands = report["candidates"]
    names = [c["name"] for c in cands]
    s = report["settings"]
    lines = ["# Wingman evaluation", "",
             f"{report['created']} · tasks: {', '.join(s['tasks'])} · limit: {s['limit']} per task · seed {s['seed']}",
             f"· held-out: {', '.join(report['heldout'])}", ""]
    for c in cands:
        info = c.get("engine") or {}
        lines.append(f"- **{c['name']}**: model `{c.get('model')}`" + (f", adapter `{c['adapter']}`" if c.get("adapter")
                     else "") + (f" ({info.get('backend')}, FIM {info.get('fim_template')}, {info.get('device')},"
                                 f" {info.get('quantization')})" if info else "") + (f" — from {c['from']}" if c.get("from") else ""))
    lines += ["", "| metric | target | " + " | ".join(names) + " |", "| --- | --- | " + " | ".join("---" for _ in names) + " |"]
    for task, metric, label, target, kind in HEADLINE:
        if not any(task in c.get("tasks", {}) for c in cands):
            continue
        row = [fmt(_metric(c, task, metric), kind) for c in cands]
        lines.append(f"| {label} | {fmt(target, kind) if target is not None else ''} | " + " | ".join(row) + " |")
    comp = comparability(report)
    if not all(comp.values()):
        lines += ["", "**Not comparable** (different samples): " + ", ".join(t for t, ok in comp.items() if not ok)]
    lines += ["", "## All metrics", ""]
    tasks = [t for t in s["tasks"] if any(t in c.get("tasks", {}) for c in cands)]
    for t in tasks:
        keys = []
        for c in cands:
            for k in c.get("tasks", {}).get(t, {}).get("metrics", {}):
                if k not in keys:
                    keys.append(k)
        lines += [f"### {t}", "", "| metric | " + " | ".join(names) + " |", "| --- | " + " | ".join("---" for _ in names) + " |"]
        for k in keys:
            lines.append(f"| {k} | " + " | ".join(fmt(_metric(c, t, k)) for c in cands) + " |")
        secs = [c.get("tasks", {}).get(t, {}).get("seconds") for c in cands]
        lines.append("| seconds | " + " | ".join(fmt(x, "auto") if x is None else f"{x:.0f}" for x in secs) + " |")
        lines.append("")
    if report.get("paired"):
        from training.evaluate import paired

        lines += paired.markdown(report["paired"], cands[0]["name"])
    sb = report.get("sandbox", {})
    if "enforced" in sb:  # model/sandbox: each guarantee and how it was enforced on this machine
        held = [f"{k} ({sb.get('how', {}).get(k) or 'yes'})" for k, v in sb["enforced"].items() if v]
        lines += ["## Sandbox", "", "enforced: " + ", ".join(held) + ".", *([sb["missing"]] if sb.get("missing") else []), ""]
    else:  # a report written before the one sandbox
        lines += ["## Sandbox", "", f"network: {sb.get('network')}; limits: {', '.join(sb.get('rlimits', []))}; "
                  f"temporary directory, scrubbed environment, timeout; runs as nobody: {sb.get('drop_to_nobody')}", ""]
    if report.get("plots"):
        lines += ["## Plots", ""] + [f"![{Path(p).stem}]({p})" for p in report["plots"]] + [""]
    lines += ["Metrics are fractions of the samples; exact match forgives only trailing whitespace. "
              "See training/evaluate/README.md for how each is measured.", ""]
    return "\n".join(lines)


def plots(report: dict, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    cands = report["candidates"]
    rows = [(label, task, metric, target) for task, metric, label, target, kind in HEADLINE
            if kind == "pct" and any(_metric(c, task, metric) is not None for c in cands)]
    if rows:
        fig, ax = plt.subplots(figsize=(10, 0.45 * len(rows) * max(1, len(cands)) + 1.5))
        h = 0.8 / max(1, len(cands))
        for j, c in enumerate(cands):
            raw = [_metric(c, t, m) for _, t, m, _ in rows]
            ys = [i + j * h for i in range(len(rows))]
            ax.barh(ys, [100 * (v or 0) for v in raw], height=h, label=c["name"])
            for y, v in zip(ys, raw):
                ax.text(100 * (v or 0) + 0.5, y, fmt(v, "pct"), va="center", fontsize=7)
        for i, (_, _, _, target) in enumerate(rows):
            if target is not None:
                ax.plot([100 * target] * 2, [i - h / 2, i + 0.8 - h / 2], color="black", linestyle="--", linewidth=1)
        ax.set_yticks([i + 0.4 - h / 2 for i in range(len(rows))])
        ax.set_yticklabels([r[0] for r in rows], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_xlabel("% (dashed: moonshot target)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "metrics.png", dpi=110)
        plt.close(fig)
        made.append("metrics.png")
    lat = [(c["name"], c["_latency_samples"]) for c in cands if c.get("_latency_samples")]
    if lat:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        data, labels = [], []
        for name, samples in lat:
            for kind in ("first", "keystroke"):
                data.append([s["wall_ms"] for s in samples if s["kind"] == kind] or [0])
                labels.append(f"{name}\n{kind}")
        ax.boxplot(data, tick_labels=labels, showfliers=True)
        ax.set_ylabel("ms per completion request")
        fig.tight_layout()
        fig.savefig(out / "latency.png", dpi=110)
        plt.close(fig)
        made.append("latency.png")
    return made


def write(report: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    report["plots"] = plots(report, out)
    clean = dict(report)
    clean["candidates"] = [{k: v for k, v in c.items() if not k.startswith("_")} for c in report["candidates"]]
    (out / "report.json").write_text(json.dumps(clean, indent=2, default=str) + "\n")
    (out / "report.md").write_text(markdown(clean))
