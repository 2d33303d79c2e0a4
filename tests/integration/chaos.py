"""The chaos scenario of issue 12, shared by tests/integration/test_chaos.py (about 60 uploads) and
bench/chaos.py (500): a burst of presigned uploads while the cloud is hurt, then the books are checked.

    with supervised_cloud(base_port=8400, ...) as cloud:
        report = run_chaos(cloud, n=60)

During the burst (a few client threads, paced at `rate` uploads a second, each create sent with its own `Idempotency-Key` and sent again
with the same key after a 5xx, a 409 or a connection error / timeout):

- the runner is killed with SIGKILL while an attempt is in flight (the supervisor starts it again);
- the database's process group is stopped (SIGSTOP) for `pause_s` seconds, then continued;
- duplicate S3 events are sent straight to the inference queue for some uploaded keys (right after the
  upload, and again after the burst);
- poison: a non-image uploaded with a real screening's form (must end `rejected` with a code), an
  S3 event for a screening whose photo never came (must end `failed` with a code after the queue's
  receives, not loop), an event for a screening id that does not exist (nothing may appear), and a
  message that is not JSON (must reach the dead-letter queue).

Then the drain: until every acknowledged screening is terminal and the queue is empty, or the bound
passes (`ChaosReport.bound_s`, from the cloud's timing: see `drain_bound`); at the bound the sweeper runs
once (what the SweepFunction does on its schedule), and whatever is still in flight counts as stuck.

What is counted (`ChaosReport`):
- lost: an acknowledged (201) screening that GET /api/screenings/{id} does not answer 200, or whose record is
  gone from the database, or (done) whose original or result images are missing;
- stuck: acknowledged and uploaded, still awaiting_upload / queued / processing after the bound;
- doubles: a screening whose pipeline ran to a result more than once (the worker's "screening <id> done
  in" / "rejected:" lines in the runner's log, written after the move to done/rejected), or with a
  `history` entry (only a rerun writes one, and nobody reruns here); key_doubles: more than one record
  for one Idempotency-Key, or two different ids answered for one key;
- unexplained: a failed or rejected record without `error.code`.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import requests

from infra.localcloud import SWEEP_GRACE_S, LocalCloud, Settings
from tests.fundus import fundus_bytes
from tests.integration.cloudclient import s3_event

ROOT = Path(__file__).resolve().parents[2]
IN_FLIGHT = ("awaiting_upload", "queued", "processing")
# The worker's log lines written once a result is stored (papila.usecases.inference: after the move to done / rejected).
_COMPLETION = re.compile(r"papila\.worker:screening ([0-9a-f-]{36}) (?:done in|rejected:)")
JUNK = b"this is not a photo, it only claims to be image/jpeg\n" * 40  # the poison object


# ---------------------------------------------------------------------- the bound
def message_life_s(settings: Settings) -> int:
    """How long one S3 event message can keep a screening in flight, as the sweeper bounds it: every receive
    `max(visibility, lease) + function timeout` apart, `max_receive_count` receives, plus the local
    sweep's grace (papila.usecases.sweeper.Bounds, infra.localcloud.SWEEP_GRACE_S)."""
    from papila import config

    lease = config.lease_seconds(settings.function_timeout)
    return settings.max_receive_count * (max(settings.visibility_timeout, lease) + settings.function_timeout) \
        + SWEEP_GRACE_S


def drain_bound(settings: Settings, uploads: int, per_upload_s: float) -> float:
    """Seconds after the last message sent (upload, duplicate, poison) by which everything must be terminal:
    one message's life plus the backlog one runner works through (`per_upload_s` per upload: locally one
    runner process screens the uploads one after another; AWS runs up to 10 at once)."""
    return message_life_s(settings) + uploads * per_upload_s


# ---------------------------------------------------------------------- the report
@dataclass
class ChaosReport:
    n: int
    acknowledged: int = 0  # creates answered 201 (distinct screenings)
    uploaded: int = 0  # normal photos whose presigned POST S3 accepted
    upload_failed: int = 0
    creates_abandoned: int = 0  # no 201 before the client gave up (not acknowledged: not counted as lost)
    creates_refused: dict[str, int] = field(default_factory=dict)  # a 4xx other than 409/429: a client bug
    client_retries: dict[str, int] = field(default_factory=dict)  # cause -> creates sent again with the same key
    replayed: int = 0  # 201 answers with Idempotent-Replayed: true
    done: int = 0
    rejected: dict[str, int] = field(default_factory=dict)  # error.code -> count
    failed: dict[str, int] = field(default_factory=dict)
    lost: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    not_uploaded: list[str] = field(default_factory=list)  # acknowledged but the client's upload failed
    doubles: list[str] = field(default_factory=list)
    key_doubles: list[str] = field(default_factory=list)
    unexplained: list[str] = field(default_factory=list)  # failed / rejected without error.code
    normal_not_done: dict[str, str] = field(default_factory=dict)  # a good photo that did not end done: id -> why
    orphan_results: list[str] = field(default_factory=list)  # results/ objects of a screening not done
    swept: dict[str, int] = field(default_factory=dict)  # what the sweep at the bound moved
    max_attempt: int = 0
    attempts: dict[str, int] = field(default_factory=dict)  # record.attempt -> count
    poison: dict[str, Any] = field(default_factory=dict)
    chaos: dict[str, Any] = field(default_factory=dict)
    duplicates_sent: int = 0
    dlq: dict[str, int] = field(default_factory=dict)
    queue_left: int = 0
    bound_s: float = 0.0
    burst_s: float = 0.0
    drain_s: float = 0.0  # first upload -> every acknowledged screening terminal and the queue empty
    drain_after_burst_s: float = 0.0  # the end of the burst -> the same
    drained: bool = False
    total_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not (self.lost or self.stuck or self.doubles or self.key_doubles or self.unexplained
                    or self.not_uploaded)

    def counts(self) -> dict[str, Any]:
        """The headline, as one JSON-able dict (ids shortened to counts)."""
        out: dict[str, Any] = {}
        for name, value in asdict(self).items():
            out[name] = len(value) if isinstance(value, list) else value
        out["ok"] = self.ok
        return out


# ---------------------------------------------------------------------- the scenario
@dataclass
class _Item:
    index: int
    key: str  # Idempotency-Key
    kind: str  # "normal", "junk" (poison object), "never" (acknowledged, never uploaded; a poison event for it)
    data: bytes
    ids: set[str] = field(default_factory=set)  # every id a 201 answered for this key
    object_key: str = ""  # the key of its presigned form
    upload_ok: bool = False
    uploaded_at: float = 0.0


class _Scenario:
    def __init__(self, cloud: LocalCloud, n: int, clients: int, rate: float | None, pause_s: float,
                 per_upload_s: float, log: Callable[[str], None], seed: int) -> None:
        assert cloud.outputs is not None, "start the cloud first"
        self.cloud, self.n, self.clients, self.rate, self.pause_s, self.per_upload_s, self.log = (
            cloud, n, clients, rate, pause_s, per_upload_s, log)
        self.settings = cloud.settings
        self.outputs = cloud.outputs
        self.rng = random.Random(seed)
        self.report = ChaosReport(n=n)
        self.lock = threading.Lock()
        self.retries: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self.photos = [fundus_bytes(1200, 1000, seed=s) for s in range(4)]
        # The poison screenings sit a third and two thirds into the burst.
        self.items = [_Item(i, str(uuid.uuid4()), "normal", self.photos[i % len(self.photos)]) for i in range(n)]
        self.items[n // 3].kind, self.items[n // 3].data = "junk", JUNK
        self.items[2 * n // 3].kind = "never"
        self.next_item = 0
        self.uploaded_count = 0
        self.last_send = time.monotonic()
        self.first_upload: float | None = None
        self.sqs = cloud.client("sqs")
        self.runner_log = cloud.run_dir / "runner.log"
        self.runner_log_offset = self.runner_log.stat().st_size if self.runner_log.exists() else 0

    # ------------------------------------------------------------ helpers
    def _mongo(self) -> Any:
        import pymongo

        return pymongo.MongoClient(self.settings.mongo_uri, serverSelectionTimeoutMS=3000, tz_aware=True)

    def _send(self, body: str) -> None:
        self.sqs.send_message(QueueUrl=self.outputs.queue_url, MessageBody=body)
        with self.lock:
            self.last_send = time.monotonic()

    def _duplicate(self, key: str, size: int) -> None:
        self._send(s3_event(self.outputs.bucket, key, size))
        with self.lock:
            self.report.duplicates_sent += 1

    # ------------------------------------------------------------ the clients
    def _create(self, http: requests.Session, item: _Item) -> dict[str, Any] | None:
        """POST /api/screenings with the item's Idempotency-Key until a 201 (or the client gives up):
        a 5xx, 409 (the secret rotated under a racing replay), 429 or a connection error / timeout is
        sent again with the same key and body, as a client does after a lost answer."""
        body = {"filename": "eye.jpg", "content_type": "image/jpeg", "consent": True, "size": len(item.data)}
        give_up = time.monotonic() + 120
        for attempt in range(1, 1000):
            try:
                # A short read timeout: a create stuck on the paused database is abandoned and sent again,
                # while the first may still complete on the server (the key must make them one screening).
                r = http.post(f"{self.settings.api_url}/api/screenings", json=body,
                              headers={"Idempotency-Key": item.key}, timeout=(5, 8))
            except requests.RequestException as exc:
                cause = type(exc).__name__
            else:
                if r.status_code == 201:
                    answer = r.json()
                    with self.lock:
                        item.ids.add(answer["id"])
                        if r.headers.get("Idempotent-Replayed") == "true":
                            self.report.replayed += 1
                    return answer
                if r.status_code not in (409, 429) and r.status_code < 500:
                    with self.lock:
                        self.refused[str(r.status_code)] += 1
                    self.log(f"create refused: {r.status_code} {r.text[:200]}")
                    return None
                cause = str(r.status_code)
            if time.monotonic() > give_up:
                return None
            with self.lock:
                self.retries[cause] += 1
            time.sleep(min(2.0, 0.2 * 2 ** min(attempt, 4)) * (0.5 + self.rng.random()))
        return None

    def _upload(self, created: dict[str, Any], item: _Item) -> bool:
        """The browser's multipart POST to the form, once: a second POST with the same form is refused by
        design (upload_replaced), so an upload is never retried here."""
        up = created["upload"]
        try:
            r = requests.post(up["url"], data=up["fields"], files={"file": ("eye.jpg", item.data, "image/jpeg")},
                              timeout=30)
        except requests.RequestException as exc:
            self.log(f"upload failed: {type(exc).__name__}: {exc}")
            return False
        if r.status_code not in (200, 201, 204):
            self.log(f"upload answered {r.status_code}: {r.text[:200]}")
            return False
        return True

    def _client(self) -> None:
        http = requests.Session()
        while True:
            with self.lock:
                if self.next_item >= self.n:
                    return
                item = self.items[self.next_item]
                self.next_item += 1
            if self.rate:  # paced: item i starts i / rate seconds into the burst
                time.sleep(max(0.0, self.t0 + item.index / self.rate - time.monotonic()))
            created = self._create(http, item)
            if created is None:
                continue
            item.object_key = str(created["upload"]["fields"]["key"])
            if item.kind == "never":  # acknowledged, no photo ever; a poison event for its key follows
                self._send(s3_event(self.outputs.bucket, item.object_key, len(item.data)))
                self.report.poison["never_uploaded_id"] = created["id"]
                continue
            ok = self._upload(created, item)
            now = time.monotonic()
            with self.lock:
                item.upload_ok, item.uploaded_at = ok, now
                self.last_send = max(self.last_send, now)
                if ok:
                    self.first_upload = self.first_upload or now
                    self.uploaded_count += 1
            if ok and item.kind == "normal" and item.index % 4 == 1:  # a duplicate while it is queued / processing
                self._duplicate(item.object_key, len(item.data))
            if item.kind == "junk":
                self.report.poison["junk_id"] = created["id"]

    # ------------------------------------------------------------ the chaos
    def _kill_runner(self) -> None:
        """SIGKILL the runner while an attempt holds a screening (waits up to 10 s for one in processing)."""
        deadline = time.monotonic() + 10
        in_flight = None
        with self._mongo() as client:
            col = client[self.settings.mongo_db]["screenings"]
            while time.monotonic() < deadline:
                doc = col.find_one({"status": "processing"}, {"_id": 1})
                if doc is not None:
                    in_flight = doc["_id"]
                    break
                time.sleep(0.05)
        pid = self.cloud._procs["runner"].pid
        os.kill(pid, signal.SIGKILL)
        self.report.chaos.update(runner_killed=pid, runner_in_flight=in_flight,
                                 runner_killed_at_s=round(time.monotonic() - self.t0, 1))
        self.log(f"chaos: runner {pid} killed (SIGKILL) with {in_flight or 'nothing'} in processing")

    def _pause_database(self) -> None:
        pid = self.cloud._procs["mongo"].pid
        os.killpg(pid, signal.SIGSTOP)
        started = time.monotonic()
        self.log(f"chaos: database {pid} stopped (SIGSTOP) for {self.pause_s:g} s")
        try:
            # Meanwhile: duplicates of keys already uploaded reach the queue and the runner.
            with self.lock:
                done_keys = [i for i in self.items if i.upload_ok and i.kind == "normal" and i.index % 4 == 3]
            time.sleep(self.pause_s / 2)
            for item in done_keys[:5]:
                self._duplicate(item.object_key, len(item.data))
            time.sleep(max(0.0, self.pause_s - (time.monotonic() - started)))
        finally:
            os.killpg(pid, signal.SIGCONT)
        self.report.chaos.update(database_paused_s=round(time.monotonic() - started, 1), database_pid=pid,
                                 database_paused_at_s=round(started - self.t0, 1))
        self.log("chaos: database continued (SIGCONT)")

    def _poison_events(self) -> None:
        """Messages nobody should screen: an unknown screening's key, and a body that is not JSON."""
        unknown = str(uuid.uuid4())
        self._send(s3_event(self.outputs.bucket, f"uploads/{unknown}/original.jpg", 1234))
        self._send("this is not JSON {")
        self.report.poison.update(unknown_id=unknown, not_json_sent=1)

    def _runner_polling(self) -> bool:
        """The runner the supervisor started (again) is up and polling (its ready file names it)."""
        proc = self.cloud._procs.get("runner")
        ready = self.cloud.run_dir / "runner.ready"
        try:
            return proc is not None and proc.poll() is None and ready.read_text().strip() == str(proc.pid)
        except OSError:
            return False

    def _chaos(self) -> None:
        """Follows the burst: the runner dies after a third of the uploads; the database pauses after
        three fifths, once the new runner polls (so the two do not overlap); the poison messages go out
        at the start."""
        self._poison_events()
        steps = [(self.n // 3, self._kill_runner, lambda: True),
                 (3 * self.n // 5, self._pause_database, self._runner_polling)]
        for threshold, action, ready in steps:
            give_up = time.monotonic() + 120
            while time.monotonic() < give_up:
                with self.lock:
                    reached = self.uploaded_count >= threshold or self.next_item >= self.n
                if reached and ready():
                    break
                time.sleep(0.05)
            action()

    # ------------------------------------------------------------ the run
    def run(self) -> ChaosReport:
        rep = self.report
        self.t0 = time.monotonic()
        with self._mongo() as client:  # the database and the runner are up before the burst
            client.admin.command("ping")
        chaos = threading.Thread(target=self._chaos, name="chaos", daemon=True)
        chaos.start()
        threads = [threading.Thread(target=self._client, name=f"client-{i}", daemon=True) for i in range(self.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        chaos.join(timeout=self.pause_s + 60)
        assert not chaos.is_alive(), "the chaos thread did not finish"
        rep.burst_s = round(time.monotonic() - self.t0, 1)
        # A second round of duplicates after the burst: many of these screenings are done by now.
        for item in self.items:
            if item.upload_ok and item.kind == "normal" and item.index % 4 == 2:
                self._duplicate(item.object_key, len(item.data))
        rep.client_retries = dict(self.retries)
        rep.creates_refused = dict(self.refused)
        rep.creates_abandoned = sum(1 for i in self.items if not i.ids) - sum(self.refused.values())
        rep.upload_failed = sum(1 for i in self.items if i.ids and i.kind != "never" and not i.upload_ok)
        rep.uploaded = sum(1 for i in self.items if i.upload_ok and i.kind == "normal")
        self.log(f"burst over in {rep.burst_s:.1f} s: {sum(1 for i in self.items if i.ids)} acknowledged, "
                 f"retries {rep.client_retries}; draining")
        self._drain()
        self._check()
        rep.total_s = round(time.monotonic() - self.t0, 1)
        return rep

    def _queue_busy(self) -> int:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=self.outputs.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])

    def _drain(self) -> None:
        rep = self.report
        uploads = sum(1 for i in self.items if i.upload_ok)
        rep.bound_s = round(drain_bound(self.settings, uploads, self.per_upload_s), 1)
        # The screening whose photo never came waits for it (its event was skipped): not in flight.
        ids = [sid for sid in self._acknowledged_ids() if sid != rep.poison.get("never_uploaded_id")]
        start = self.first_upload or self.t0
        quiet = 0
        last_note = 0.0
        with self._mongo() as client:
            col = client[self.settings.mongo_db]["screenings"]
            while True:
                deadline = self.last_send + rep.bound_s
                pending = col.count_documents({"_id": {"$in": ids}, "status": {"$in": list(IN_FLIGHT)}})
                busy = self._queue_busy() if pending == 0 else -1
                quiet = quiet + 1 if pending == 0 and busy == 0 else 0
                over = quiet >= 2  # the queue's counts are approximate: twice in a row
                if over or time.monotonic() > deadline:
                    rep.drain_s = round(time.monotonic() - start, 1)
                    rep.drain_after_burst_s = round(time.monotonic() - self.t0 - rep.burst_s, 1)
                if over:
                    rep.drained = True
                    break
                if time.monotonic() > deadline:
                    # What the scheduled SweepFunction does: anything in flight past its bound ends failed.
                    rep.swept = {k: v for k, v in self.cloud.sweep().items() if v}
                    self.log(f"bound of {rep.bound_s:.0f} s passed with {pending} in flight, queue {busy}; "
                             f"swept {rep.swept}")
                    break
                if time.monotonic() - last_note > 15:
                    last_note = time.monotonic()
                    self.log(f"draining: {pending} in flight, queue {busy}, "
                             f"{deadline - time.monotonic():.0f} s left of the bound")
                time.sleep(0.5)

    def _acknowledged_ids(self) -> list[str]:
        return sorted({sid for item in self.items for sid in item.ids})

    def _check(self) -> None:
        rep = self.report
        ids = self._acknowledged_ids()
        rep.acknowledged = len(ids)
        kind_of = {sid: item.kind for item in self.items for sid in item.ids}
        uploaded = {sid for item in self.items if item.upload_ok for sid in item.ids}
        with self._mongo() as client:
            col = client[self.settings.mongo_db]["screenings"]
            records = {doc["_id"]: doc for doc in col.find({"_id": {"$in": ids}})}
            # One record per Idempotency-Key, and one id per key in the answers.
            for item in self.items:
                key_hash = hashlib.sha256(item.key.encode("ascii")).hexdigest()
                count = col.count_documents({"idempotency.key_hash": key_hash})
                if count > 1 or len(item.ids) > 1:
                    rep.key_doubles.append(item.key)
            unknown = rep.poison.get("unknown_id")
            rep.poison["unknown_id_record"] = bool(unknown and col.count_documents({"_id": unknown}))
        s3 = self.cloud.client("s3")
        objects: set[str] = set()
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.outputs.bucket):
            objects.update(obj["Key"] for obj in page.get("Contents", []))
        completions = Counter(_COMPLETION.findall(self._runner_log()))
        rep.chaos["runner_restarts"] = self.cloud.restarts.get("runner", 0)
        rep.chaos["database_restarts"] = self.cloud.restarts.get("mongo", 0)
        attempts: Counter[str] = Counter()
        statuses: dict[str, str] = {}
        for sid in ids:
            doc = records.get(sid)
            if doc is None:
                rep.lost.append(sid)
                continue
            status = doc["status"]
            statuses[sid] = status
            attempts[str(doc.get("attempt", 0))] += 1
            rep.max_attempt = max(rep.max_attempt, int(doc.get("attempt", 0)))
            code = (doc.get("error") or {}).get("code")
            if status == "done":
                rep.done += 1
                results = {f"results/{sid}/crop.png", f"results/{sid}/heatmap.png"}
                if not doc.get("result") or not results <= objects or doc["original_key"] not in objects:
                    rep.lost.append(sid)  # a done screening whose result or photo is gone
            elif status in ("rejected", "failed"):
                bucket = rep.rejected if status == "rejected" else rep.failed
                bucket[code or "(none)"] = bucket.get(code or "(none)", 0) + 1
                if not code:
                    rep.unexplained.append(sid)
                if any(k.startswith(f"results/{sid}/") for k in objects):
                    rep.orphan_results.append(sid)
            elif kind_of.get(sid) == "never":
                if status != "awaiting_upload":  # its event was skipped: it waits for its photo, nothing else
                    rep.stuck.append(sid)
            elif sid in uploaded:
                rep.stuck.append(sid)
            else:
                rep.not_uploaded.append(sid)
            if completions[sid] > 1 or doc.get("history"):
                rep.doubles.append(sid)
            if kind_of.get(sid) == "normal" and status != "done":
                rep.normal_not_done[sid] = f"{status} {code or ''}".strip()
        rep.attempts = dict(sorted(attempts.items()))
        # Every acknowledged id answers through the API (an id alone reads the result).
        with ThreadPoolExecutor(max_workers=4) as pool:
            answers = list(pool.map(self._get_status, ids))
        for sid, code in zip(ids, answers, strict=True):
            if code != 200 and sid not in rep.lost:
                rep.lost.append(sid)
        for name, sid in (("junk", rep.poison.get("junk_id")), ("never_uploaded", rep.poison.get("never_uploaded_id"))):
            if sid:
                doc = records.get(sid) or {}
                rep.poison[name] = f"{doc.get('status')} {(doc.get('error') or {}).get('code')}"
        rep.dlq = self._dlq()
        rep.queue_left = self._queue_busy()

    def _get_status(self, sid: str) -> int | str:
        for _ in range(3):
            try:
                return requests.get(f"{self.settings.api_url}/api/screenings/{sid}", timeout=30).status_code
            except requests.RequestException as exc:
                last = type(exc).__name__
                time.sleep(1)
        return last

    def _runner_log(self) -> str:
        try:
            with self.runner_log.open("rb") as f:
                f.seek(self.runner_log_offset)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def _dlq(self) -> dict[str, int]:
        """What the dead-letter queue holds, by kind (read without taking anything off it)."""
        kinds: Counter[str] = Counter()
        seen: set[str] = set()
        for _ in range(5):
            got = self.sqs.receive_message(QueueUrl=self.outputs.dlq_url, MaxNumberOfMessages=10,
                                           VisibilityTimeout=0, WaitTimeSeconds=0).get("Messages", [])
            for message in got:
                if message["MessageId"] in seen:
                    continue
                seen.add(message["MessageId"])
                try:
                    body = json.loads(message["Body"])
                except json.JSONDecodeError:
                    kinds["not_json"] += 1
                    continue
                kinds["s3_event" if isinstance(body, dict) and "Records" in body else "other"] += 1
            if not got:
                break
        return dict(kinds)


def run_chaos(cloud: LocalCloud, n: int = 60, *, clients: int = 4, rate: float | None = 4.0, pause_s: float = 10.0,
              per_upload_s: float = 1.5, log: Callable[[str], None] = print, seed: int = 12) -> ChaosReport:
    """The scenario on a started, supervised cloud (see `supervised_cloud`): `n` uploads from `clients`
    threads, started `rate` a second (None: as fast as the clients go); the counts in the report.
    Asserts nothing itself: the test and the bench decide."""
    return _Scenario(cloud, n, clients, rate, pause_s, per_upload_s, log, seed).run()
