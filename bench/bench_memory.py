"""Peak memory of `triage label` on a million-row file of real complaints.

Usage: python bench/bench_memory.py [--rows N] [--jobs J] [--model DIR]
Builds an N-row CSV (id, text) from the real financial complaints of ../shared/data/heimao_fin_complaints
(repeated to reach N rows), runs `triage label` on it in a new process, and samples the resident memory (RSS) of
that process and its worker processes every 0.1 s from /proc (Linux). Reports the peak of the whole process tree
(as PSS, which counts pages the forked workers share once, and as summed RSS, which counts them in every process),
the peak RSS of the main process, the time taken, and rows/s; also the same for N/10 rows, so that one can see that the
peak does not grow with the number of rows. Writes bench/results/memory.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import shared_data  # noqa: E402


def _read_kb(path: str, field: str) -> int:
    try:
        with open(path, encoding="ascii") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _rss_kb(pid: int) -> int:
    return _read_kb(f"/proc/{pid}/status", "VmRSS:")


def _pss_kb(pid: int) -> int:
    """Proportional set size: pages shared by the forked workers counted once overall, not once per process."""
    return _read_kb(f"/proc/{pid}/smaps_rollup", "Pss:")


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += _children(p)
    return out


def write_input(path: Path, rows: int) -> int:
    train, _, test, _ = shared_data.heimao_fin_complaints()
    base = [t for t in train + test if t.strip()]
    chars = 0
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "text"])
        for i in range(rows):
            text = base[i % len(base)]
            chars += len(text)
            writer.writerow([i, text])
    return chars


def run(src: Path, out: Path, jobs: int, model: str | None) -> dict:
    command = [sys.executable, "-m", "triage", "label", str(src), "-o", str(out), "--jobs", str(jobs), "--force"]
    if model:
        command += ["--model", model]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak_tree = peak_pss = peak_main = 0
    while process.poll() is None:
        pids = _tree(process.pid)
        peak_tree = max(peak_tree, sum(_rss_kb(p) for p in pids))
        peak_pss = max(peak_pss, sum(_pss_kb(p) for p in pids))
        peak_main = max(peak_main, _rss_kb(process.pid))
        time.sleep(0.1)
    seconds = time.perf_counter() - start
    err = process.stderr.read().decode()
    if process.returncode != 0:
        raise SystemExit(f"triage label failed:\n{err}")
    summary = [line for line in err.splitlines() if line.startswith("Labelled")]
    return {"seconds": round(seconds, 1), "peak_pss_mb_all_processes": round(peak_pss / 1024),
            "peak_rss_mb_all_processes_summed": round(peak_tree / 1024),
            "peak_rss_mb_main_process": round(peak_main / 1024), "summary": summary[0] if summary else ""}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    if not shared_data.available():
        print("../shared/data is absent: nothing to benchmark.")
        return
    folder = Path(tempfile.mkdtemp())
    result = {"command": "python bench/bench_memory.py " + " ".join(sys.argv[1:]), "jobs": args.jobs, "runs": []}
    for rows in (args.rows // 10, args.rows):
        src = folder / f"in_{rows}.csv"
        chars = write_input(src, rows)
        figures = run(src, folder / f"out_{rows}.csv", args.jobs, args.model)
        figures.update(rows=rows, characters=chars, input_mb=round(src.stat().st_size / 1e6),
                       rows_per_s=round(rows / figures["seconds"]))
        print(figures)
        result["runs"].append(figures)
        src.unlink()
        (folder / f"out_{rows}.csv").unlink()
    out = Path(__file__).parent / "results" / f"memory_jobs{args.jobs}.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
