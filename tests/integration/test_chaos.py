"""Issue 12's chaos test: about 60 presigned uploads while the runner is killed, the database is paused
10 s, duplicate S3 events arrive and poison goes into the queue; then 0 acknowledged screenings lost,
0 stuck past the bound, 0 double results, every failure a status with a reason
(the scenario and its definitions: tests/integration/chaos.py; the same at 500: bench/chaos.py).

Runs its own cloud on other ports (TEST_CHAOS_BASE_PORT, default 8400/8480/27417/4966/5401), with the
supervisor in a thread, so killing and pausing its processes never touches the session's `cloud`.
TEST_CHAOS_N changes the number of uploads (default 60)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.localcloud import LocalCloud
from tests.integration.chaos import message_life_s, run_chaos
from tests.integration.cloudclient import supervised_cloud

# Start (~1 min) + burst (~40 s) + drain (~70 s: the killed batch and the poison wait out visibility
# timeouts); a run that has to wait for its whole bound takes about 5 minutes before it fails.
pytestmark = pytest.mark.timeout(600)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def chaos_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    base = int(os.environ.get("TEST_CHAOS_BASE_PORT", "8400"))
    with supervised_cloud(base, tmp_path_factory.mktemp("chaos-state"), ROOT / ".run" / "test-chaos",
                          "papila_chaos") as cloud:
        yield cloud


def test_a_burst_under_chaos_loses_nothing_leaves_nothing_stuck_and_screens_each_upload_once(
        chaos_cloud: LocalCloud) -> None:
    n = int(os.environ.get("TEST_CHAOS_N", "60"))
    report = run_chaos(chaos_cloud, n=n, clients=4, pause_s=10)
    counts = report.counts()
    print("chaos:", json.dumps(counts, sort_keys=True))
    detail = json.dumps({k: v for k, v in counts.items() if v}, sort_keys=True)

    # The chaos happened: the runner died with an attempt in flight and came back; the database paused.
    assert report.chaos.get("runner_restarts", 0) >= 1, detail
    assert report.chaos.get("database_paused_s", 0) >= 9.5, detail
    assert report.chaos.get("database_restarts") == 0, detail  # a pause is not a death
    assert report.duplicates_sent >= n // 4, detail
    # Every create answered 201 in the end (retried with the same key through the pause), and uploaded.
    assert report.acknowledged == n and report.creates_abandoned == 0 and not report.creates_refused, detail
    assert report.upload_failed == 0 and report.uploaded == n - 2, detail

    assert report.lost == [], f"acknowledged screenings lost: {report.lost}; {detail}"
    assert report.stuck == [] and report.not_uploaded == [], f"stuck past the bound: {report.stuck}; {detail}"
    assert report.doubles == [], f"screened more than once: {report.doubles}; {detail}"
    assert report.key_doubles == [], f"several screenings for one Idempotency-Key: {report.key_doubles}; {detail}"
    assert report.unexplained == [], f"failed/rejected without error.code: {report.unexplained}; {detail}"
    # Drained by itself, within one message's life after the last message: nothing needed the sweeper.
    assert report.drained and report.queue_left == 0 and not report.swept, detail
    assert report.bound_s >= message_life_s(chaos_cloud.settings)

    # The poison ended visibly and did not loop: the non-image is rejected with its code, the event for a
    # photo that never came is skipped (the screening still waits for its photo, uses up no attempt; the
    # sweeper ends it once its upload window has closed), an unknown id creates nothing, and the message
    # that is not JSON is in the dead-letter queue.
    assert report.poison["junk"].startswith("rejected "), detail
    assert report.poison["never_uploaded"] == "awaiting_upload None", detail
    assert report.poison["unknown_id_record"] is False, detail
    assert report.dlq.get("not_json") == 1, detail
    # The good photos: done, or (should an attempt meet both the kill and the pause on its last receive)
    # failed with the worker's or the sweeper's reason; at most a few.
    assert set(report.normal_not_done.values()) <= {"failed processing_failed", "failed processing_stalled"}, detail
    assert report.done >= n - 2 - max(1, n // 20), detail
