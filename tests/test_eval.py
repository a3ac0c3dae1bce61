"""``fin360 evaluate`` on the shared scored lake: grades against the planted truth, logged on
the runs they grade."""

from __future__ import annotations

from fin360 import eval as grading
from fin360.ml import tracking


def test_grades_are_logged_on_the_champions_training_runs(spark, scored_lake):
    cfg, as_of, trained, _ = scored_lake
    out = grading.run(spark, cfg, as_of)
    er = out["entity_resolution"]
    assert er["precision"] >= 0.95 and er["recall"] >= 0.95, er
    rings = out["rings"]
    assert rings["ring_members_planted"] > 0
    assert rings["ring_recall"] >= 0.9 and rings["ring_precision"] >= 0.8, rings
    client = tracking.setup(cfg)
    seg = out["segmentation"]
    assert seg["run_id"] == trained["segmentation"]["run_id"]
    assert 0 < seg["ari_planted_segments"] <= 1  # better than chance against the planted truth
    logged = client.get_run(seg["run_id"]).data.metrics
    assert logged["ari_planted_segments"] == seg["ari_planted_segments"]
    alerts = out["anomaly"]
    assert alerts["run_id"] == trained["anomaly"]["run_id"]
    assert (
        client.get_run(alerts["run_id"]).data.metrics["planted_alert_recall"]
        == (alerts["planted_alert_recall"])
    )
    assert alerts["planted_cases_in_window"] > 0 and alerts["planted_alert_precision"] > 0
