"""Labelling on Dask: the same labels as ``model.predict``, row for row and in order, on a real two-process cluster."""

import json
import socket
import subprocess
import sys

import pytest

dask_distributed = pytest.importorskip("dask.distributed")
dd = pytest.importorskip("dask.dataframe")
pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")

from triage import InputError, load_model  # noqa: E402
from triage.distributed import ClusterError, label_dask_dataframe, label_files_on_cluster, label_frame  # noqa: E402
from triage.resources import corpora_dir, default_model_dir  # noqa: E402

BAD_ROWS = ["", "😀😀😀"]  # no labels, needs_review


@pytest.fixture(scope="module")
def client():
    """Two worker processes, one thread each, on the loopback interface; no dashboard."""
    cluster = dask_distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                            dashboard_address=None)
    client = dask_distributed.Client(cluster)
    # The workers import triage in the background while this process loads the model.
    workers = client.scheduler_info()["workers"]
    warming = [client.submit(exec, "import triage.distributed", workers=[w], pure=False) for w in workers]
    yield client
    del warming
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def model(client):
    """The shipped default model, loaded after the cluster has started so that both start up at once."""
    return load_model()


@pytest.fixture(scope="module")
def complaints():
    """200 authored held-out complaints plus two unusable texts, with a text id that must survive as text."""
    with open(corpora_dir() / "complaints.heldout.jsonl", encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f][:200]
    texts[3:3] = BAD_ROWS
    return pd.DataFrame({"id": [f"{i:04d}" for i in range(len(texts))], "text": texts, "note": "甲"})


@pytest.fixture(scope="module")
def expected(model, complaints):
    return [p.labels | {"needs_review": p.needs_review} for p in model.predict(complaints["text"].tolist())]


def labels_of(frame, model):
    """Each row's labels and review flag, missing labels as None, whatever the dtype or file format."""
    columns = {t: frame[t].astype(object).where(frame[t].notna() & (frame[t] != ""), None).tolist()
               for t in model.target_names}
    review = [str(v) == "True" for v in frame["needs_review"]]
    return [{t: columns[t][i] for t in model.target_names} | {"needs_review": review[i]} for i in range(len(frame))]


def worker_models(client):
    """Per worker: the models its process has cached, as (directory, manifest hash, object id)."""

    def cached():  # nested, so it is pickled by value: workers need not import this test module
        from triage.distributed import _MODELS

        return [(*key, id(model)) for key, model in _MODELS.items()]

    return client.run(cached)


# -- one frame -------------------------------------------------------------------
def test_label_frame_keeps_columns_and_matches_predict(model, complaints, expected):
    out = label_frame(model, complaints)
    assert list(out.columns[:3]) == ["id", "text", "note"]
    assert list(out.columns[3:6]) == ["category", "category_name", "category_probability"]
    assert out.index.equals(complaints.index) and out["id"].tolist() == complaints["id"].tolist()
    assert labels_of(out, model) == expected
    assert "missing" in out["review_reason"][3]


def test_label_frame_names_the_columns_when_text_is_missing(model):
    with pytest.raises(InputError, match=r"no column 'text'.*'id', '内容'"):
        label_frame(model, pd.DataFrame({"id": [1], "内容": ["信用卡年费"]}))


# -- a Dask DataFrame ------------------------------------------------------------
def test_dask_dataframe_matches_predict_and_loads_the_model_once_per_worker(client, model, complaints, expected):
    labelled = label_dask_dataframe(model, dd.from_pandas(complaints, npartitions=4))  # sent as its directory
    assert labelled.npartitions == 4
    out = labelled.compute(scheduler=client)
    assert out["id"].tolist() == complaints["id"].tolist()
    assert labels_of(out, model) == expected
    assert dict(labelled.dtypes) == dict(out.dtypes)
    loaded = worker_models(client)
    assert any(loaded.values()) and all(len(models) <= 1 for models in loaded.values())
    assert labels_of(labelled.compute(scheduler=client), model) == expected
    assert worker_models(client) == loaded  # the same model objects: nothing was loaded again


def test_dask_dataframe_with_an_unsaved_model(client):
    from triage import ComplaintClassifier, FeatureConfig
    from triage.segment import Segmenter

    texts = ["信用卡年费太贵要求退", "信用卡分期手续费高", "房贷提前还款违约金",
             "贷款提前还款要预约", "信用卡被盗刷", "贷款催收打给我家人"]
    unsaved = ComplaintClassifier(segmenter=Segmenter(user_dict=None, stop_words=None),
                                  features=FeatureConfig(char_min_df=1)).fit(
        texts, {"product": ["card", "card", "loan", "loan", "card", "loan"]})
    frame = pd.DataFrame({"text": ["信用卡年费", "提前还款", "盗刷", "催收"]})
    out = label_dask_dataframe(unsaved, dd.from_pandas(frame, npartitions=1)).compute(scheduler=client)
    assert out["product"].tolist() == [p.labels["product"] for p in unsaved.predict(frame["text"].tolist())]


def test_dask_dataframe_names_the_columns_when_text_is_missing():
    ddf = dd.from_pandas(pd.DataFrame({"id": [1], "内容": ["信用卡年费"]}), npartitions=1)
    with pytest.raises(InputError, match=r"no column 'text'.*'id', '内容'"):
        label_dask_dataframe(None, ddf)


# -- files on the cluster --------------------------------------------------------
def read_csv_output(folder):
    files = sorted(folder.glob("part-*.csv"))
    return pd.concat([pd.read_csv(f, dtype=str, keep_default_na=False) for f in files], ignore_index=True)


def test_csv_shards(client, tmp_path, model, complaints, expected):
    shards = tmp_path / "shards"
    shards.mkdir()
    bounds = {"1": (0, 50), "2": (50, 120), "10": (120, len(complaints))}  # natural order: 1, 2, 10
    for name, (lo, hi) in bounds.items():
        complaints.iloc[lo:hi].to_csv(shards / f"part-{name}.csv", index=False)
    out_dir = tmp_path / "out"
    summary = label_files_on_cluster(None, shards, out_dir, scheduler=client)

    out = read_csv_output(out_dir)
    assert list(out.columns[:3]) == ["id", "text", "note"]
    assert out["id"].tolist() == complaints["id"].tolist()  # ids stay text ("0007"), rows stay in order
    assert labels_of(out, model) == expected
    assert summary["rows"] == len(complaints) and summary["partitions"] == 3
    assert summary["needs_review"] == sum(e["needs_review"] for e in expected)
    assert summary["bad_rows"] == len(BAD_ROWS)
    for target in model.target_names:
        assert sum(summary["distribution"][target].values()) == len(complaints)
        assert summary["distribution"][target]["(none)"] == len(BAD_ROWS)
    assert json.loads((out_dir / "_triage_summary.json").read_text(encoding="utf-8"))["rows"] == len(complaints)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no partial folder left

    with pytest.raises(InputError, match="already exists.*overwrite=True"):
        label_files_on_cluster(None, str(shards / "*.csv"), out_dir, scheduler=client)
    again = label_files_on_cluster(None, [shards / "part-10.csv"], out_dir, scheduler=client, overwrite=True)
    assert again["rows"] == len(complaints) - 120 and len(read_csv_output(out_dir)) == again["rows"]


def test_parquet_files(client, tmp_path, model, complaints, expected):
    shards = tmp_path / "shards"
    shards.mkdir()
    with_null = complaints.astype({"text": object})
    with_null.loc[3, "text"] = None  # a null text, not just an empty one
    with_null.iloc[:100].to_parquet(shards / "a.parquet", index=False)
    with_null.iloc[100:].to_parquet(shards / "b.parquet", index=False)
    summary = label_files_on_cluster(default_model_dir(), shards, tmp_path / "out", scheduler=client)

    out = pd.read_parquet(tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir())[:2] == ["_triage_summary.json", "part-00000.parquet"]
    assert out["id"].tolist() == complaints["id"].tolist()
    assert labels_of(out, model) == expected
    assert str(out["category_probability"].dtype) == "float64" and str(out["needs_review"].dtype) == "bool"
    assert summary["format"] == "parquet" and summary["rows"] == len(complaints)


def test_refuses_to_replace_a_folder_it_did_not_write(client, tmp_path, complaints):
    complaints.iloc[:5].to_csv(tmp_path / "in.csv", index=False)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(InputError, match="triage did not write"):
        label_files_on_cluster(None, tmp_path / "in.csv", tmp_path / "mine", scheduler=client, overwrite=True)
    assert (tmp_path / "mine" / "notes.txt").read_text(encoding="utf-8") == "keep me"


def test_no_input_files(client, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="matches no input files"):
        label_files_on_cluster(None, tmp_path / "empty", tmp_path / "out", scheduler=client)
    with pytest.raises(InputError, match="matches no input files"):
        label_files_on_cluster(None, str(tmp_path / "*.csv"), tmp_path / "out", scheduler=client)


def test_unreachable_scheduler(tmp_path, complaints):
    complaints.iloc[:5].to_csv(tmp_path / "in.csv", index=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # free once closed: nothing listens there
    address = f"tcp://127.0.0.1:{port}"
    with pytest.raises(ClusterError, match=rf"Cannot reach the Dask scheduler at '{address}'.*dask scheduler"):
        label_files_on_cluster(None, tmp_path / "in.csv", tmp_path / "out", scheduler=address, connect_timeout=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_missing_dask_says_how_to_install(monkeypatch, complaints):
    monkeypatch.setitem(sys.modules, "dask.dataframe", None)
    with pytest.raises(ClusterError, match=r"pip install 'triage\[dask\]'"):
        label_dask_dataframe(None, complaints)


def test_importing_triage_does_not_import_dask():
    code = "import sys, triage, triage.distributed; assert 'dask' not in sys.modules, 'triage imported dask'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cli_label_with_scheduler(client, tmp_path, model, complaints, expected):
    from click.testing import CliRunner

    from triage.cli import main

    shards = tmp_path / "shards"
    shards.mkdir()
    complaints.iloc[:100].to_csv(shards / "a.csv", index=False)
    complaints.iloc[100:].to_csv(shards / "b.csv", index=False)
    address = client.scheduler.address
    result = CliRunner().invoke(main, ["label", str(shards), "-o", str(tmp_path / "out"), "--scheduler", address])
    assert result.exit_code == 0, result.output
    assert f"Labelled {len(complaints)} rows in 2 partitions on {address}" in result.output
    assert labels_of(read_csv_output(tmp_path / "out"), model) == expected
    no_output = CliRunner().invoke(main, ["label", str(shards), "--scheduler", address])
    assert no_output.exit_code == 2 and "output folder" in no_output.output
    folder_without_scheduler = CliRunner().invoke(main, ["label", str(shards), "-o", str(tmp_path / "x.csv")])
    assert folder_without_scheduler.exit_code == 2 and "use --scheduler" in folder_without_scheduler.output
