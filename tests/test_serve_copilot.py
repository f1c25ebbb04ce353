"""The copilot's endpoints on a real ``pintel serve`` (uvicorn on 127.0.0.1): ``/users/{id}/churn`` from the
in-memory snapshot (reloaded when the table changes, never holding the warehouse), ``/ask`` answering exactly
like ``pintel ask --json``, ``/digest`` serving the last digest, and clear 400/404s."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from pintel.digest import write_digest
from pintel.settings import Settings, connect
from tests.support.copilot import REASONS, band, copilot_warehouse, probability, write_churn_scores
from tests.support.serve import running_server


@pytest.fixture(scope="module")
def copilot(small_warehouse: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = copilot_warehouse(small_warehouse, tmp_path_factory.mktemp("copilot"))
    write_digest(settings.warehouse, settings.reports)
    return settings


@pytest.fixture(scope="module")
def server(copilot: Settings) -> str:
    env = {"PINTEL_REPORTS": str(copilot.reports), "PINTEL_LLM": ""}
    with running_server(copilot.warehouse, env=env, log=copilot.home / "serve.log") as url:
        yield url


def _users(settings: Settings) -> list[str]:
    con = connect(settings.warehouse, read_only=True)
    try:
        return [u for (u,) in con.execute("select user_id from marts.dim_users order by user_id limit 3").fetchall()]
    finally:
        con.close()


def test_churn_of_a_user(server: str, copilot: Settings) -> None:
    user = _users(copilot)[0]
    response = httpx.get(f"{server}/users/{user}/churn")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["user_id"] == user
    assert body["score"] == pytest.approx(probability(user)) and body["band"] == band(probability(user))
    assert body["reasons"][:2] == list(REASONS[:2])
    assert body["served_snapshot"] == "2025-03-24" and body["stale"] is False
    assert body["table"] == "ml.churn_scores_v2" and body["model_version"] == "v2"


def test_unknown_user_is_404_and_bad_ids_are_400(server: str) -> None:
    missing = httpx.get(f"{server}/users/no-such-user/churn")
    assert missing.status_code == 404 and "no-such-user" in missing.json()["detail"]
    too_long = httpx.get(f"{server}/users/{'x' * 300}/churn")
    assert too_long.status_code == 400 and "256" in too_long.json()["detail"]
    blank = httpx.get(f"{server}/users/%20/churn")
    assert blank.status_code == 400


def test_ask_returns_the_json_of_the_cli(server: str, copilot: Settings) -> None:
    question = "weekly active users by platform last week"
    api = httpx.get(f"{server}/ask", params={"q": question}, timeout=60)
    assert api.status_code == 200
    cli = [str(Path(sys.executable).with_name("pintel")), "ask", question, "--json"]
    done = subprocess.run(
        [*cli, "--warehouse", str(copilot.warehouse)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert api.json() == json.loads(done.stdout)
    assert api.json()["status"] == "answered" and api.json()["group_by"] == ["platform"]


def test_ask_errors_and_refusals(server: str) -> None:
    assert httpx.get(f"{server}/ask").status_code == 400
    empty = httpx.get(f"{server}/ask", params={"q": "   "})
    assert empty.status_code == 400 and "ask a question" in empty.json()["detail"]
    assert httpx.get(f"{server}/ask", params={"q": "x" * 501}).status_code == 400
    hostile = httpx.get(f"{server}/ask", params={"q": "drop table marts.fct_events"}, timeout=60)
    assert hostile.status_code == 200 and hostile.json()["status"] == "refused" and hostile.json()["sql"] is None


def test_digest_is_served(server: str, copilot: Settings) -> None:
    page = httpx.get(f"{server}/digest")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.content == (copilot.reports / "digest.html").read_bytes()
    markdown = httpx.get(f"{server}/digest", params={"format": "md"})
    assert markdown.status_code == 200 and markdown.text.startswith("# Product digest")
    assert httpx.get(f"{server}/digest", params={"format": "pdf"}).status_code == 400


def _wait_for(server: str, user: str, version: str, seconds: float = 30) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        body = httpx.get(f"{server}/users/{user}/churn").json()
        if body["model_version"] == version or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


def test_snapshot_reloads_when_the_table_changes_and_never_holds_the_warehouse(server: str, copilot: Settings) -> None:
    user = _users(copilot)[1]
    assert httpx.get(f"{server}/users/{user}/churn").json()["stale"] is False
    # the pipeline can write while the server runs (it holds no connection) ...
    writer = connect(copilot.warehouse)
    try:
        write_churn_scores(writer, snapshot="2025-03-17", stale=True, version="v2b")
        time.sleep(3)  # ... and while a writer holds the file, the last good snapshot stays served
        assert httpx.get(f"{server}/users/{user}/churn").json()["model_version"] == "v2"
        assert "unavailable" in (httpx.get(f"{server}/health").json()["churn"]["error"] or "")
    finally:
        writer.close()
    body = _wait_for(server, user, "v2b")  # once the writer is done, the change is served
    assert body["model_version"] == "v2b" and body["stale"] is True
    assert body["served_snapshot"] == "2025-03-17" and body["expected_snapshot"] == "2025-03-24"
    con = connect(copilot.warehouse)  # a writer again, right after the reload: the server closed its connection
    con.close()
    health = httpx.get(f"{server}/health").json()
    assert health["churn"]["users"] > 0 and health["churn"]["error"] is None
