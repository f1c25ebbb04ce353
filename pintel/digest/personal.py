"""Digest section "Recommendations & upgrades": how far the recommender beat popularity, the feature nudges the
decision engine proposed and how they turned out, and how well the upgrade propensity ranks and is calibrated.

It reads the models' own evaluation tables (``ml.ml_recommendation_metrics``: the held-out 14-day split;
``ml.ml_upgrade_metrics``: the later test window) and the decision engine's ``nudge_feature`` rows with their
judged outcomes -- never a number computed here that is not in a table it read (derived figures are computed in
the recorded SQL). A part whose table is not built is said in one sentence; the whole section is skipped, with
its reason, when none is.
"""

from __future__ import annotations

import pandas as pd

from pintel.digest.text import Reader, Section, Table, count, number, pct

RECOMMENDATION_METRICS = "ml.ml_recommendation_metrics"
UPGRADE_METRICS = "ml.ml_upgrade_metrics"
#: Nudges shown: those decided in the last NUDGE_DAYS days (at most MAX_NUDGES of them, newest first).
NUDGE_DAYS = 28
MAX_NUDGES = 10
CONSTANTS = (NUDGE_DAYS, MAX_NUDGES)


def _recommender(reader: Reader, section: Section) -> None:
    if not reader.exists(RECOMMENDATION_METRICS):
        section.lines.append(f"The recommender's evaluation is not built yet ({RECOMMENDATION_METRICS}).")
        return
    rows = reader.read(
        RECOMMENDATION_METRICS,
        f"""select model, split_date, horizon_days, k, hit_rate_at_k, ndcg_at_k, users_judged, lift_vs_popularity
            from {RECOMMENDATION_METRICS}""",
    ).set_index("model")
    if "blended" not in rows.index or "popularity" not in rows.index:
        section.lines.append(f"{RECOMMENDATION_METRICS} has no evaluation of the served recommender yet.")
        return
    served, popular = rows.loc["blended"], rows.loc["popularity"]
    line = (
        f"Recommendations: on the {count(served['horizon_days'])} days after {served['split_date']:%Y-%m-%d}, a "
        f"user's top {count(served['k'])} held the feature they took up for {pct(served['hit_rate_at_k'])} of "
        f"{count(served['users_judged'])} users, against {pct(popular['hit_rate_at_k'])} for the most popular "
        f"features (x{number(served['lift_vs_popularity'])})"
    )
    if "oracle" in rows.index:
        line += f"; the simulator's true propensities reach {pct(rows.loc['oracle', 'hit_rate_at_k'])}"
    section.lines.append(line + ".")


def _nudges(reader: Reader, section: Section) -> None:
    if not reader.exists("decide.decisions"):
        section.lines.append("No nudges yet: the decision engine has not run on this warehouse.")
        return
    judged = reader.exists("decide.action_outcomes")
    outcome = (
        "o.verdict, o.summary from decide.decisions as d left join decide.action_outcomes as o using (decision_id)"
        if judged
        else "null as verdict, null as summary from decide.decisions as d"
    )
    rows = reader.read(
        "decide.decisions:nudges",
        f"""select d.created_at, d.decision, d.target, d.title, d.evaluate_after, {outcome}
            where d.action_type = 'nudge_feature'
              and d.created_at >= (select max(created_at) from decide.decisions) - to_days($days)
            order by d.created_at desc limit $limit""",
        {"days": NUDGE_DAYS, "limit": MAX_NUDGES},
    )
    if rows.empty:
        section.lines.append(f"No feature nudges were proposed in the last {NUDGE_DAYS} days.")
        return
    acted = rows[rows["decision"] == "act"]
    section.lines.append(
        f"{count(len(rows))} feature nudges in the last {NUDGE_DAYS} days: {count(len(acted))} proposed to act, "
        f"{count(len(rows) - len(acted))} only monitored (the recommender had not earned it, or too few held out)."
    )
    counts = {"total": len(rows), "act": len(acted), "other": len(rows) - len(acted)}
    reader.evidence.add("decide.decisions:nudge_counts", pd.DataFrame({k: [v] for k, v in counts.items()}))
    section.lines += [
        f"Outcome of “{r.title}”: **{r.verdict}** — {r.summary}" for r in rows.dropna(subset=["verdict"]).itertuples()
    ]
    section.table = Table(
        ["when (UTC)", "decision", "nudge", "outcome"],
        [
            [
                f"{r.created_at:%Y-%m-%d %H:%M}",
                r.decision,
                r.title,
                r.verdict if isinstance(r.verdict, str) else "pending" if r.decision == "act" else "—",
            ]
            for r in rows.itertuples()
        ],
    )


def _upgrade(reader: Reader, section: Section) -> None:
    if not reader.exists(UPGRADE_METRICS):
        section.lines.append(f"The upgrade propensity's evaluation is not built yet ({UPGRADE_METRICS}).")
        return
    rows = reader.read(
        UPGRADE_METRICS,
        f"""select model, test_from, test_to, roc_auc, ece, n, positives,
                roc_auc - (select max(roc_auc) from {UPGRADE_METRICS} where model = 'baseline') as auc_over_baseline
            from {UPGRADE_METRICS}""",
    ).set_index("model")
    if "v1" not in rows.index:
        section.lines.append(f"{UPGRADE_METRICS} has no evaluation of the upgrade model yet.")
        return
    v1 = rows.loc["v1"]
    line = (
        f"Upgrade propensity (free users, later test window from {v1['test_from']:%Y-%m-%d}, "
        f"{count(v1['positives'])} upgrades among {count(v1['n'])}): AUC {number(v1['roc_auc'])}"
    )
    if "baseline" in rows.index:
        line += (
            f" against {number(rows.loc['baseline', 'roc_auc'])} for recent activity alone "
            f"({number(v1['auc_over_baseline'])} better)"
        )
    if "oracle" in rows.index:
        line += f", the simulator's truth {number(rows.loc['oracle', 'roc_auc'])}"
    section.lines.append(line + f"; calibration error {number(v1['ece'], 3)}.")


def recommendations(reader: Reader) -> Section:
    """Recommender vs popularity, the nudges proposed with their outcomes, and the upgrade model's quality."""
    section = Section("recommendations", "Recommendations & upgrades")
    if not (reader.exists(RECOMMENDATION_METRICS) or reader.exists(UPGRADE_METRICS)):
        return section.skip(
            f"Recommendations and upgrade propensity are not built yet ({RECOMMENDATION_METRICS}, {UPGRADE_METRICS})."
        )
    _recommender(reader, section)
    _upgrade(reader, section)
    _nudges(reader, section)
    return section
