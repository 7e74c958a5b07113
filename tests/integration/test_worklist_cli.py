"""``tarla worklist`` over the stored decisions (issue 14), on both databases: ``--refresh``
computes what is missing for every site's current day (0 when the writes kept them current),
``--offset``/``--limit`` page the list, and a bad page or site exits 2 naming the field."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, text

from tarla.cli import main


def test_refresh_computes_only_what_is_missing_and_pages_show_slices_of_the_list(
        database_url: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TARLA_DATABASE_URL", database_url)
    assert main(["demo-data", "--patients", "7", "--seed", "5", "--json"]) == 0  # today
    capsys.readouterr()
    # every write of the load stored its course's decision for today: nothing is missing
    assert main(["worklist", "--refresh", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"refreshed": {"DEMO": 0}}

    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM course_decisions"))
    assert main(["worklist", "--refresh"]) == 0
    out = capsys.readouterr().out
    assert main(["worklist", "--json"]) == 0
    whole = json.loads(capsys.readouterr().out)
    assert out.strip() == f"DEMO: {whole['total']} decision(s) computed"
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM course_decisions")).scalar_one()
    engine.dispose()
    assert stored == whole["total"] >= 3

    assert main(["worklist", "--offset", "1", "--limit", "2", "--json"]) == 0
    page = json.loads(capsys.readouterr().out)
    assert page["items"] == whole["items"][1:3]
    assert (page["total"], page["counts"]) == (whole["total"], whole["counts"])
    assert main(["worklist", "--limit", "2"]) == 0
    assert f"rows 1-2 of {whole['total']}" in capsys.readouterr().out


@pytest.mark.parametrize(("args", "message"), [
    (["--offset", "-1"], "error: offset: must be 0 or more"),
    (["--limit", "0"], "error: limit: must be 1 or more"),
    (["--refresh", "--site", "NOPE"], "error: site: no site with code 'NOPE'"),
])
def test_a_bad_page_or_site_exits_2_naming_the_field(
        database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        args: list[str], message: str) -> None:
    monkeypatch.setenv("TARLA_DATABASE_URL", database_url)
    assert main(["demo-data", "--patients", "2", "--json"]) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as refused:
        main(["worklist", *args])
    assert refused.value.code == 2
    assert capsys.readouterr().err.strip() == message
