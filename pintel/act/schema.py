"""The delivery side's warehouse tables (DuckDB schema ``act``), created on first use by the one writer.

Why in-process and not dbt: flag changes, the outbox and the kill switch are written by pintel as it acts, one row
at a time, and must exist even on a run whose dbt build or quality gate failed. The columns are a public
interface (the digest, the copilot and dbt sources read them), so they change only by adding columns.
"""

from __future__ import annotations

from typing import Any

SCHEMA = "act"

DDL = (
    f"create schema if not exists {SCHEMA}",
    f"create sequence if not exists {SCHEMA}.feature_flag_audit_seq start 1",
    f"""create table if not exists {SCHEMA}.feature_flags (
        key varchar primary key,          -- the flag key applications evaluate
        state varchar not null,           -- ENABLED / DISABLED (flagd semantics: DISABLED = as if absent)
        variants varchar not null,        -- JSON object: variant name -> value (all of one type)
        default_variant varchar,          -- served when targeting is absent or returns null
        targeting varchar,                -- JSON: a flagd JsonLogic rule (if, ==, in, fractional, ...) or null
        description varchar,
        revision bigint not null,         -- audit_id of the change that produced this row
        updated_at timestamp not null,
        updated_by varchar not null
    )""",
    f"""create table if not exists {SCHEMA}.feature_flag_audit (
        audit_id bigint primary key default nextval('{SCHEMA}.feature_flag_audit_seq'),
        flag_key varchar not null,
        changed_at timestamp not null,
        actor varchar not null,           -- a person, or decision:<decision_id>
        actor_kind varchar not null,      -- human / decision
        change varchar not null,          -- create / set / rollback / ship / revert
        reason varchar not null,
        decision_id varchar,
        reverts_audit_id bigint,
        before varchar,                   -- JSON of the flag before (null when created)
        after varchar                     -- JSON of the flag after
    )""",
    f"""create table if not exists {SCHEMA}.kill_switch_audit (
        changed_at timestamp not null,
        actor varchar not null,
        state boolean not null,
        reason varchar not null
    )""",
    f"""create table if not exists {SCHEMA}.action_outbox (
        idempotency_key varchar primary key,  -- one per (decision, channel[, outcome])
        decision_id varchar not null,
        kind varchar not null,                -- decision / outcome
        channel varchar not null,             -- as routed by the policy (#name or id)
        channel_id varchar,
        state varchar not null,               -- pending / sent / failed / dry_run
        delivered_decision varchar,           -- the decision as delivered (monitor under the kill switch)
        severity varchar,
        kill_switch boolean not null,
        attempts integer not null,
        message_ts varchar,
        thread_ts varchar,
        message varchar not null,             -- JSON: text, blocks, metadata exactly as sent
        error varchar,
        created_at timestamp not null,
        updated_at timestamp not null,
        sent_at timestamp
    )""",
)


def ensure_schema(con: Any) -> None:
    """Create the ``act`` tables when missing (idempotent; needs a writable connection)."""
    for statement in DDL:
        con.execute(statement)
