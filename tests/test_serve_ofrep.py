"""``pintel serve`` as a real uvicorn process on 127.0.0.1, read by the real OpenFeature SDK and OFREP provider:
the bad-rollout flag reads on before and off after pintel rolls it back; OFREP's errors; token-guarded writes."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import httpx
import pytest
from openfeature import api
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

from pintel.act import deliver, kill_switch
from pintel.act.edit import rollout_targeting
from pintel.act.flag import Flag
from pintel.act.flags import change_flag, history
from pintel.act.warehouse import open_writer, writer
from pintel.settings import connect
from tests.support.decisions import POLICY, decision, read_decisions, write_decisions
from tests.support.serve import running_server

TOKEN = "test-api-token-0123456789"
ANDROID = {"platform": "android"}


@pytest.fixture
def warehouse(tmp_path, monkeypatch):
    monkeypatch.delenv("PINTEL_SLACK_BOT_TOKEN", raising=False)  # delivery dry-runs: this file is about flags
    monkeypatch.delenv("PINTEL_KILL_SWITCH", raising=False)
    monkeypatch.delenv("PINTEL_FLAGS_FILE", raising=False)
    path = tmp_path / "pintel.duckdb"
    with writer(path) as con:
        change_flag(con, Flag("new_editor", targeting=rollout_targeting(50, ANDROID)), actor="alice", reason="ramp")
        con.execute("update act.feature_flag_audit set changed_at = changed_at - interval 3 day")
    return path


@pytest.fixture
def server(warehouse, tmp_path):
    with running_server(warehouse, env={"PINTEL_API_TOKEN": TOKEN}, log=tmp_path / "serve.log") as url:
        yield url


@pytest.fixture
def client(server):
    domain = f"pintel-{uuid.uuid4().hex[:8]}"
    api.set_provider(OFREPProvider(base_url=server, timeout=5), domain)
    yield api.get_client(domain)
    api.clear_providers()


def _android(user: str) -> EvaluationContext:
    return EvaluationContext(targeting_key=user, attributes=ANDROID)


def test_bad_rollout_reads_on_before_and_off_after_rollback(warehouse, server, client) -> None:
    values = {u: client.get_boolean_value("new_editor", False, _android(u)) for u in (f"user-{i}" for i in range(40))}
    exposed = [u for u, on in values.items() if on]
    assert 8 < len(exposed) < 32, "about half of android users are in the rollout"
    ios = EvaluationContext(targeting_key=exposed[0], attributes={"platform": "ios"})
    assert client.get_boolean_value("new_editor", True, ios) is False
    details = client.get_boolean_details("new_editor", False, _android(exposed[0]))
    assert details.value is True and details.reason == Reason.SPLIT and details.variant == "on"

    rollback = decision()
    con = open_writer(warehouse)
    try:
        write_decisions(con, [rollback])
        report = deliver(con, read_decisions(con), POLICY)
    finally:
        con.close()
    assert report.counts()["flag_changes"] == 1
    deadline = time.monotonic() + 5
    while client.get_boolean_value("new_editor", True, _android(exposed[0])) and time.monotonic() < deadline:
        time.sleep(0.05)
    after = client.get_boolean_details("new_editor", True, _android(exposed[0]))
    assert after.value is False and after.variant == "off" and after.reason == Reason.STATIC
    assert all(client.get_boolean_value("new_editor", True, _android(u)) is False for u in exposed)
    assert int(after.flag_metadata["revision"]) > int(details.flag_metadata["revision"])
    audit = httpx.get(f"{server}/api/v1/flags/new_editor/history").json()
    assert (
        audit[0]["actor"] == f"decision:{rollback['decision_id']}"
        and audit[0]["decision_id"] == rollback["decision_id"]
    )
    assert audit[0]["change"] == "rollback"
    health = httpx.get(f"{server}/health").json()
    assert health["flags"]["revision"] == audit[0]["audit_id"] and health["flags"]["max_staleness_seconds"] == 0.2


def test_ofrep_errors(server, client) -> None:
    missing = client.get_boolean_details("no_such_flag", True, _android("u"))
    assert missing.error_code == ErrorCode.FLAG_NOT_FOUND and missing.value is True
    keyless = client.get_boolean_details("new_editor", False, EvaluationContext(attributes=ANDROID))
    assert keyless.error_code == ErrorCode.TARGETING_KEY_MISSING
    url = f"{server}/ofrep/v1/evaluate/flags/new_editor"
    bad = httpx.post(url, content=b"{not json", headers={"Content-Type": "application/json"})
    assert bad.status_code == 400 and bad.json()["errorCode"] == "PARSE_ERROR"
    assert "not valid JSON" in bad.json()["errorDetails"]
    wrong = httpx.post(url, json={"context": ["a", "list"]})
    assert wrong.status_code == 400 and wrong.json()["errorCode"] == "INVALID_CONTEXT"
    not_found = httpx.post(f"{server}/ofrep/v1/evaluate/flags/nope", json={})
    assert not_found.status_code == 404 and not_found.json() == {
        "key": "nope",
        "errorCode": "FLAG_NOT_FOUND",
        "errorDetails": "flag 'nope' is not in pintel's flag store",
    }


def test_bulk_evaluation_etag(server) -> None:
    url = f"{server}/ofrep/v1/evaluate/flags"
    first = httpx.post(url, json={"context": {"targetingKey": "u1", **ANDROID}})
    assert first.status_code == 200 and first.headers["ETag"]
    assert [f["key"] for f in first.json()["flags"]] == ["new_editor"]
    same = httpx.post(
        url, json={"context": {"targetingKey": "u1", **ANDROID}}, headers={"If-None-Match": first.headers["ETag"]}
    )
    assert same.status_code == 304 and not same.content
    keyless = httpx.post(url, json={"context": ANDROID}).json()["flags"][0]
    assert keyless["errorCode"] == "TARGETING_KEY_MISSING"
    assert httpx.post(url, content=b"[1,").status_code == 400
    config = httpx.get(f"{server}/ofrep/v1/configuration").json()
    assert config["capabilities"]["cacheInvalidation"]["polling"]["minPollingIntervalMs"] == 200


def test_writes_need_the_token(server, client, warehouse) -> None:
    url = f"{server}/api/v1/flags/new_editor"
    body = {"actor": "erin", "reason": "ship it", "variant": "on"}
    assert httpx.put(url, json=body).status_code == 401
    denied = httpx.put(url, json=body, headers={"Authorization": "Bearer wrong"})
    assert denied.status_code == 401 and denied.headers["WWW-Authenticate"] == "Bearer"
    assert httpx.post(f"{server}/api/v1/kill-switch", json={"on": True, "actor": "x", "reason": "y"}).status_code == 401
    auth = {"Authorization": f"Bearer {TOKEN}"}
    malformed = httpx.put(url, json={"actor": "erin"}, headers=auth)
    assert malformed.status_code == 400 and "reason" in malformed.json()["detail"]
    posing = httpx.put(url, json={**body, "actor": "decision:123"}, headers=auth)
    assert posing.status_code == 400 and "reserved" in posing.json()["detail"]
    changed = httpx.put(url, json=body, headers=auth)
    assert changed.status_code == 200 and changed.json()["changed"]
    assert client.get_boolean_value("new_editor", False, _android("anyone")) is True  # served at once
    con = connect(warehouse, read_only=True)
    try:
        assert history(con, "new_editor").iloc[0]["actor"] == "erin"
    finally:
        con.close()


def test_write_while_locked_is_503_naming_the_holder(server, warehouse) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(warehouse)!r}); print('ok', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    auth = {"Authorization": f"Bearer {TOKEN}"}
    try:
        assert holder.stdout.readline().strip() == "ok"
        locked = httpx.put(
            f"{server}/api/v1/flags/new_editor",
            json={"actor": "f", "reason": "r", "variant": "on"},
            headers=auth,
            timeout=10,
        )
        assert locked.status_code == 503 and locked.headers["Retry-After"] == "5"
        assert f"PID {holder.pid}" in locked.json()["detail"]["holder"]
        stop = httpx.post(
            f"{server}/api/v1/kill-switch",
            json={"on": True, "actor": "f", "reason": "stop now"},
            headers=auth,
            timeout=10,
        )
        assert stop.status_code == 200 and stop.json()["on"] and "marker" in stop.json()["note"]
    finally:
        holder.kill()
        holder.wait()
    con = open_writer(warehouse)
    try:
        on, why = kill_switch.is_on(con)
        assert on and "stop now" in why
    finally:
        con.close()
