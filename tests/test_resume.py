"""Resumable, parallel, deduplicating labelling jobs, tested by killing real jobs at random points."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from triage import label_file
from triage.resources import corpora_dir

ROWS = 3000


@pytest.fixture(scope="module")
def job_input(tmp_path_factory):
    """A CSV of authored complaints with repeats, odd rows and an extra column, as exports look."""
    with open(corpora_dir() / "complaints.heldout.jsonl", encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f]
    rng = random.Random(7)
    rows = []
    for i in range(ROWS):
        text = rng.choice(texts) if i % 7 else ""  # every seventh row empty: flagged, not dropped
        rows.append((f"C{i:05d}", text if i % 5 else texts[i % 40]))  # many repeats
    path = tmp_path_factory.mktemp("job") / "in.csv"
    import csv

    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "text"])
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def reference(job_input, tiny_model_dir, tmp_path_factory):
    from triage import load_model

    out = tmp_path_factory.mktemp("ref") / "out.csv"
    summary = label_file(load_model(tiny_model_dir), job_input, out, chunk_size=50)
    assert summary.rows == ROWS
    return out.read_bytes()


def _cli(*args):
    return [sys.executable, "-m", "triage", "label", *map(str, args)]


def _wait_for_progress(checkpoint, process, timeout=60.0):
    """Until the job has checkpointed at least one chunk (or ended)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if checkpoint.exists():
            return True
        time.sleep(0.01)
    return False


@pytest.mark.parametrize("jobs", [1, 2])
def test_sigkill_at_random_points_then_resume_gives_the_uninterrupted_output(
        job_input, reference, tiny_model_dir, tmp_path, jobs):
    out = tmp_path / "out.csv"
    checkpoint = tmp_path / "out.csv.partial.json"
    rng = random.Random(jobs)
    args = [job_input, "-o", out, "--model", tiny_model_dir, "--chunk-size", 50, "--jobs", jobs]
    kills = 0
    for attempt in range(6):
        process = subprocess.Popen(_cli(*args, *(["--resume"] if attempt else [])),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if _wait_for_progress(checkpoint, process):
            # the first kill comes as soon as a chunk is checkpointed (a fast machine may finish the 3,000 rows
            # within 0.4 s), later ones at random points
            time.sleep(rng.uniform(0.0, 0.4) if kills else 0.0)
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
        _, err = process.communicate(timeout=120)
        if out.exists():
            break
    else:
        process = subprocess.run(_cli(*args, "--resume"), capture_output=True, timeout=120)
        assert process.returncode == 0, process.stderr.decode()
    assert kills >= 1, "the job always finished before it could be killed; make it longer"
    assert out.read_bytes() == reference
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_ctrl_c_keeps_the_work_and_says_how_to_resume(job_input, reference, tiny_model_dir, tmp_path):
    out = tmp_path / "out.csv"
    args = [job_input, "-o", out, "--model", tiny_model_dir, "--chunk-size", 20, "--jobs", 1]
    process = subprocess.Popen(_cli(*args), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert _wait_for_progress(tmp_path / "out.csv.partial.json", process)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    if process.returncode == 0:
        pytest.skip("the job finished before Ctrl-C arrived")
    assert process.returncode == 130
    assert "--resume" in err.decode() and not out.exists()
    done = subprocess.run(_cli(*args, "--resume"), capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    assert "resumed after" in done.stderr.decode()
    assert out.read_bytes() == reference


def test_torn_write_after_the_last_checkpoint_is_cut_off(job_input, reference, tiny_model, tmp_path):
    out = tmp_path / "out.csv"
    partial = tmp_path / "out.csv.partial"

    class Stop(Exception):
        pass

    def stop_after_three_chunks(rows, fraction):
        if rows >= 150:
            raise Stop

    with pytest.raises(Stop):
        label_file(tiny_model, job_input, out, chunk_size=50, progress=stop_after_three_chunks)
    with open(partial, "ab") as f:
        f.write(b"C99999,half a row written when the power went")
    summary = label_file(tiny_model, job_input, out, chunk_size=50, resume=True)
    assert summary.resumed_from == 150 and summary.rows == ROWS
    assert out.read_bytes() == reference


def test_resume_refuses_another_model_or_column(job_input, tiny_model, tmp_path):
    from triage import load_model

    out = tmp_path / "out.csv"

    def stop(rows, fraction):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        label_file(tiny_model, job_input, out, chunk_size=50, progress=stop)
    with pytest.raises(Exception, match="the model changed"):
        label_file(load_model(), job_input, out, resume=True)
    with pytest.raises(Exception, match="the options"):
        label_file(tiny_model, job_input, out, resume=True, text_column="id")


def test_parallel_and_deduplicated_output_equals_plain_output(job_input, reference, tiny_model, tmp_path):
    summary = label_file(tiny_model, job_input, tmp_path / "a.csv", chunk_size=50, jobs=2)
    assert (tmp_path / "a.csv").read_bytes() == reference
    assert summary.jobs == 2 and summary.classified < ROWS / 2  # repeats classified once
    plain = label_file(tiny_model, job_input, tmp_path / "b.csv", chunk_size=50, cache_size=0)
    assert (tmp_path / "b.csv").read_bytes() == reference
    assert summary.to_dict()["distribution"] == plain.to_dict()["distribution"]
    for jobs in (1, 2):  # one chunk of over 1,000 distinct texts: labelled in model batches, shared by the workers
        whole = label_file(tiny_model, job_input, tmp_path / f"whole{jobs}.csv", chunk_size=ROWS, jobs=jobs)
        assert (tmp_path / f"whole{jobs}.csv").read_bytes() == reference and whole.classified > 1000


def test_excel_output_is_resumable_through_a_spool(job_input, tiny_model, tmp_path):
    from triage.io import read_rows

    out = tmp_path / "out.xlsx"

    def stop(rows, fraction):
        if rows >= 100:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        label_file(tiny_model, job_input, out, chunk_size=50, progress=stop)
    label_file(tiny_model, job_input, out, chunk_size=50, resume=True)
    columns, rows = read_rows(out)
    assert len(rows) == ROWS and [r["id"] for r in rows[:3]] == ["C00000", "C00001", "C00002"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.xlsx"]
