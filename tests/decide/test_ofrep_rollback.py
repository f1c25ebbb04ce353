"""Issue 13's acceptance end to end, from the engine: the real OpenFeature SDK with the OFREP provider reads the
bad-rollout flag from ``pintel serve`` on 127.0.0.1 as on before and off after pintel's own decision rolled it
back, and the audit row names that decision."""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta

import httpx
import pytest
from openfeature import api
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext

from pintel.act import deliver
from pintel.act.edit import rollout_targeting
from pintel.act.flag import Flag
from pintel.act.flags import change_flag
from pintel.act.warehouse import writer
from pintel.decide import decide, load_decisions, load_policy
from pintel.quality import run_suite
from tests.support.serve import running_server

WEB = {"platform": "web"}


@pytest.fixture
def served(warehouse, tmp_path, monkeypatch):
    for name in ("PINTEL_SLACK_BOT_TOKEN", "PINTEL_KILL_SWITCH", "PINTEL_FLAGS_FILE"):
        monkeypatch.delenv(name, raising=False)
    with writer(warehouse.warehouse) as con:  # the team ramped new_editor to half of web three days ago
        change_flag(con, Flag("new_editor", targeting=rollout_targeting(50, WEB)), actor="alice", reason="ramp")
        con.execute("update act.feature_flag_audit set changed_at = changed_at - interval 3 day")
    assert run_suite(warehouse.warehouse, "fct_events").success  # a real critical GX pass, recorded
    with running_server(warehouse.warehouse, log=tmp_path / "serve.log") as url:
        domain = f"pintel-{uuid.uuid4().hex[:8]}"
        api.set_provider(OFREPProvider(base_url=url, timeout=5), domain)
        yield url, api.get_client(domain)
        api.clear_providers()


def test_engine_rollback_reaches_an_openfeature_client(warehouse, served, rollout_starts) -> None:
    url, client = served
    users = [f"user-{i}" for i in range(40)]
    exposed = [u for u in users if client.get_boolean_value("new_editor", False, EvaluationContext(u, WEB))]
    assert exposed, "part of web users are in the rollout before pintel acts"

    policy = load_policy()  # the default policy, unchanged: data quality passed above
    with writer(warehouse.warehouse) as con:
        run = decide(con, policy, rollout_starts["new_editor"] + timedelta(hours=48))
        rollbacks = load_decisions(con).query("decision == 'rollback' and target == 'new_editor'")
        report = deliver(con, rollbacks, policy)
    assert run.data_quality_status == "passed" and len(rollbacks) == 1
    assert report.counts()["flag_changes"] == 1
    decision_id = rollbacks.iloc[0]["decision_id"]

    deadline = time.monotonic() + 5
    while (
        client.get_boolean_value("new_editor", True, EvaluationContext(exposed[0], WEB)) and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    assert all(client.get_boolean_value("new_editor", True, EvaluationContext(u, WEB)) is False for u in exposed)
    audit = httpx.get(f"{url}/api/v1/flags/new_editor/history").json()
    assert audit[0]["decision_id"] == decision_id and audit[0]["actor"] == f"decision:{decision_id}"
    assert audit[0]["change"] == "rollback"
    assert json.loads(rollbacks.iloc[0]["payload"]) == {"flag": "new_editor", "state": "off"}
