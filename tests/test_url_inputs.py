"""A report run on an fsspec URL: the runner fingerprints the files behind it as it does a local path, and
the command line keeps a URL as given instead of anchoring it under the params file's folder."""

from __future__ import annotations

from cjlib import cli, synth
from cjlib.report.runner import fingerprint


def test_a_url_fingerprints_as_its_local_path(tmp_path):
    ev = synth.generate(40, seed=1).events
    folder = tmp_path / "events"
    folder.mkdir()
    for k in range(2):
        ev.iloc[k::2].to_csv(folder / f"part-{k}.csv", index=False)
    one = folder / "part-0.csv"
    for local in (one, folder, folder / "*.csv"):
        assert fingerprint([f"file://{local}"]) == fingerprint([str(local)]), local
    assert fingerprint([f"file://{folder}"]) != fingerprint([f"file://{one}"])
    before = fingerprint([f"file://{folder}"])
    ev.iloc[:3].to_csv(folder / "part-1.csv", index=False)  # a file behind the URL changed
    assert fingerprint([f"file://{folder}"]) != before


def test_the_cli_keeps_urls_as_given():
    assert not cli._is_path("events_path", "s3://bucket/events/")
    assert not cli._is_path("events_path", "file:///data/events.parquet")
    assert cli._is_path("events_path", "data/events.parquet")
