"""The local cloud: LocalStack (host mode, no Docker), SecantusDB, template.yaml deployed onto LocalStack,
the local Lambda runner, `chalice local` and the SPA, started, watched and stopped as one.

    python -m infra.localcloud up       # foreground; Ctrl-C stops everything      (make up)
    python -m infra.localcloud down     # stops a running `up` from another shell  (make down)
    python -m infra.localcloud env      # prints the environment of the running cloud

Ports and folders come from API_PORT, SPA_PORT, MONGO_PORT, LOCALSTACK_PORT, PAPILA_STATE_DIR,
PAPILA_RUN_DIR, so the test suite runs its own isolated cloud beside a user's `make up`.

Persistence (`make up`): MongoDB data lives in .localdata/mongo (SecantusDB on disk). LocalStack's
community S3 and SQS keep nothing, so the bucket is mirrored to .localdata/s3 (every 30 s and at stop)
and the messages still waiting in the queue and the DLQ to .localdata/sqs (at stop). `up` restores
them before the runner polls, with the bucket's notification paused during the restore, so restored
uploads do not re-trigger the pipeline; restored messages start with a fresh receive count. Should a
mirror be lost (a crash between two mirrors), `up` erases the records whose original image is gone,
with their derived images: no record ever points at a missing image.

Supervision (`up`): a service that dies is started again after a back-off (1 s doubling to 30 s, back
to 1 s after a minute of good health) while the rest keeps serving; a dead LocalStack is started again
with the template deployed and the bucket restored, then the runner and the API on the new stack.
SecantusDB runs with --sync-on-commit, so every acknowledged write survives a kill -9. Why no supervisor
library: infra/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from infra import cfn, cognito

ROOT = cfn.ROOT
VENV_PY = ROOT / ".venv" / "bin" / "python"
LOCALSTACK_PY = ROOT / ".localstack-venv" / "bin" / "python"
FRONTEND = ROOT / "frontend"
REGION = "us-east-1"
MIRROR_EVERY_S = 30
SWEEP_EVERY_S = 60  # the bounded sweep (papila.usecases.sweeper), as template.yaml's SweepFunction does in AWS
MODEL_CHECK_S = 10  # how often the local inference function looks at the model pointer (AWS: 300 s)
SWEEP_GRACE_S = 60  # backlog allowance on top of a message's own life (AWS: papila.usecases.sweeper's default)
# Restarts of a service that died: 1 s, doubling to 30 s; a service that ran a minute starts again at 1 s.
RESTART_FIRST_S = 1.0
RESTART_CAP_S = 30.0
RESTART_HEALTHY_S = 60.0
# Which service watches come first: the stores before what depends on them.
_WATCH_ORDER = ("localstack", "mongo", "cognito", "runner", "export-runner", "compare-runner", "api", "spa")
# The local Lambda runners: one per function with an SQS event, each on its own queue (template.yaml):
# service name -> (the function's logical id, the environment variable holding its queue's URL).
RUNNERS = {
    "runner": ("InferenceFunction", "INFERENCE_QUEUE_URL"),
    "export-runner": ("ExportFunction", "EXPORT_QUEUE_URL"),
    "compare-runner": ("CompareFunction", "COMPARE_QUEUE_URL"),
}
# What each service's command line contains: pid files are trusted only for these processes.
_SIGNATURES = {
    "spa": "infra.spa_server",
    "api": "chalice",
    "runner": "infra.lambda_runner",
    "export-runner": "infra.lambda_runner",
    "compare-runner": "infra.lambda_runner",
    "localstack": "localstack.runtime.main",
    "mongo": "secantusd-py",
    "cognito": "moto_server",
}


def _log(message: str) -> None:
    print(f"[localcloud] {message}", flush=True)


@dataclass
class Settings:
    api_port: int = 8000
    spa_port: int = 8080
    mongo_port: int = 27017
    localstack_port: int = 4566
    cognito_port: int = cognito.DEFAULT_PORT  # moto's server, for the admin sign-in pool
    state_dir: Path = ROOT / ".localdata"
    run_dir: Path = ROOT / ".run"
    stack_name: str = "papila"
    mongo_db: str = "papila"
    # The inference function's timeout here, the one number the timing derives from as in AWS
    # (papila.config): the queue hides a message for 6x it and the worker's lease is it plus a margin.
    # Small, so a poison message reaches the DLQ in about 90 s (3 receives, 30 s apart).
    function_timeout: int = 5
    visibility_timeout: int = 30  # at least papila.config.visibility_timeout(function_timeout)
    max_receive_count: int = 3
    persist: bool = True
    spa: bool = True
    # SecantusDB fsyncs its journal at every commit (--sync-on-commit): an acknowledged write survives
    # kill -9 of the database. Off only to show what happens without it.
    mongo_sync_on_commit: bool = True

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        from papila import config

        env = os.environ
        values: dict[str, Any] = {
            "api_port": int(env.get("API_PORT", 8000)),
            "spa_port": int(env.get("SPA_PORT", 8080)),
            "mongo_port": int(env.get("MONGO_PORT", 27017)),
            "localstack_port": int(env.get("LOCALSTACK_PORT", 4566)),
            "cognito_port": int(env.get("COGNITO_PORT", cognito.DEFAULT_PORT)),
            "state_dir": Path(env.get("PAPILA_STATE_DIR", ROOT / ".localdata")),
            "run_dir": Path(env.get("PAPILA_RUN_DIR", ROOT / ".run")),
            "function_timeout": int(env.get("INFERENCE_TIMEOUT", 5)),
        }
        values.update(overrides)
        floor = config.visibility_timeout(values["function_timeout"])
        values["visibility_timeout"] = max(floor, int(values.get("visibility_timeout")
                                                      or env.get("QUEUE_VISIBILITY_TIMEOUT") or floor))
        return cls(**values)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.localstack_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def spa_url(self) -> str:
        return f"http://127.0.0.1:{self.spa_port}"

    @property
    def mongo_uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.mongo_port}/"


@dataclass
class Outputs:
    bucket: str
    queue_url: str
    dlq_url: str
    queue_arn: str
    export_queue_url: str = ""
    export_dlq_url: str = ""
    model_parameter: str = ""  # the model registry's "current" pointer (an SSM parameter)
    compare_queue_url: str = ""
    compare_dlq_url: str = ""  # the model registry's "current" pointer (an SSM parameter)

    def queues(self) -> dict[str, str]:
        """Every queue of the stack by the name its saved messages go under (`make down` / `make up`)."""
        return {"queue": self.queue_url, "dlq": self.dlq_url,
                "export-queue": self.export_queue_url, "export-dlq": self.export_dlq_url,
                "compare-queue": self.compare_queue_url, "compare-dlq": self.compare_dlq_url}


class StartError(RuntimeError):
    pass


@dataclass
class Backoff:
    """Capped exponential back-off between restarts of one service: `first`, doubling up to `cap`; once
    the service has run `healthy_after` seconds, its next death starts again at `first`."""

    first: float = RESTART_FIRST_S
    cap: float = RESTART_CAP_S
    healthy_after: float = RESTART_HEALTHY_S
    failures: int = 0

    def next_delay(self, uptime: float | None = None) -> float:
        """The wait before the next start, given how long the last run lasted (None: it never started)."""
        if uptime is not None and uptime >= self.healthy_after:
            self.failures = 0
        delay = min(self.cap, self.first * 2 ** min(self.failures, 30))
        self.failures += 1
        return delay


@dataclass
class LocalCloud:
    settings: Settings = field(default_factory=Settings.from_env)
    outputs: Outputs | None = None
    admin_pool: cognito.AdminPool | None = None  # the accounts pool on moto's server, once made

    # ------------------------------------------------------------------ paths and clients
    @property
    def run_dir(self) -> Path:
        return self.settings.run_dir

    @property
    def env_file(self) -> Path:
        return self.run_dir / "env"

    @property
    def _state_marker(self) -> Path:
        return self.run_dir / "state-restored"

    def client(self, service: str) -> Any:
        # Tooling of the local cloud itself, so the endpoint is explicit here (app code relies on
        # AWS_ENDPOINT_URL instead).
        return boto3.client(
            service,
            endpoint_url=self.settings.endpoint,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
        )

    def service_env(self) -> dict[str, str]:
        """The functions' environment: what template.yaml gives them in AWS, pointed at this cloud."""
        s, o = self.settings, self.outputs
        assert o is not None, "deploy first"
        return {
            "AWS_ENDPOINT_URL": s.endpoint,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "UPLOADS_BUCKET": o.bucket,
            "INFERENCE_QUEUE_URL": o.queue_url,
            "INFERENCE_DLQ_URL": o.dlq_url,
            "EXPORT_QUEUE_URL": o.export_queue_url,
            "EXPORT_DLQ_URL": o.export_dlq_url,
            "COMPARE_QUEUE_URL": o.compare_queue_url,
            "COMPARE_DLQ_URL": o.compare_dlq_url,
            "MODEL_PARAMETER": o.model_parameter,
            "MODEL_CHECK_SECONDS": str(MODEL_CHECK_S),
            "MONGODB_URI": self._mongo_uri_from_secret(),
            "MONGODB_DB": s.mongo_db,
            "MAX_RECEIVE_COUNT": str(s.max_receive_count),
            "FUNCTION_TIMEOUT": str(s.function_timeout),
            "QUEUE_VISIBILITY_TIMEOUT": str(s.visibility_timeout),
            "MODEL_PATH": os.environ.get("MODEL_PATH") or str(ROOT / "weights" / "papila_vgg19_int8.tflite"),
            "CORS_ALLOW_ORIGIN": s.spa_url,
            "POWERTOOLS_SERVICE_NAME": "papila",
            # No X-Ray daemon locally (the template turns tracing on in AWS).
            "POWERTOOLS_TRACE_DISABLED": "true",
            # COGNITO_*: sign-in (infra/cognito.py), and AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER: boto3's
            # endpoint for the API's Cognito admin calls (granting reviewers), moto's server
            **(self.admin_pool.env() if self.admin_pool else {}),
        }

    def _child_env(self, extra: dict[str, str]) -> dict[str, str]:
        # Never hand a real AWS profile or token to local services.
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") or k == "AWS_CA_BUNDLE"}
        env.update(extra)
        return env

    # ------------------------------------------------------------------ processes
    def _pidfile(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def _spawn(self, name: str, argv: list[str], env: dict[str, str], cwd: Path = ROOT) -> int:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        log = (self.run_dir / f"{name}.log").open("ab")
        log.write(f"\n---- {time.strftime('%Y-%m-%d %H:%M:%S')} start {name}\n".encode())
        log.flush()
        # Own session: Ctrl-C reaches only the supervisor, which stops the children in order.
        proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        self._pidfile(name).write_text(str(proc.pid))
        self._procs[name] = proc
        self._started_at[name] = time.monotonic()
        self._wanted.add(name)  # watched from now on: restarted if it dies, until _stop(name)
        return proc.pid

    def _pid(self, name: str) -> int | None:
        """The live process a pid file names, if it is still ours (a reused pid is not)."""
        try:
            pid = int(self._pidfile(name).read_text().strip())
        except (OSError, ValueError):
            return None
        if not _alive(pid):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return None
        return pid if _SIGNATURES.get(name, "") in cmdline else None

    def alive(self, name: str) -> bool:
        proc = self._procs.get(name)
        if proc is not None:
            return proc.poll() is None
        return self._pid(name) is not None

    def _stop(self, name: str, timeout: float = 15) -> None:
        started = time.monotonic()
        self._wanted.discard(name)
        self._due.pop(name, None)
        pid = self._pid(name)
        proc = self._procs.pop(name, None)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)  # the child's own process group (start_new_session)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if proc is not None and proc.poll() is not None:
                    break
                if proc is None and not _alive(pid):
                    break
                time.sleep(0.1)
            else:
                _log(f"{name} did not stop in {timeout:.0f} s; killing it")
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
            if proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=5)
            _log(f"stopped {name} in {time.monotonic() - started:.1f} s")
        self._pidfile(name).unlink(missing_ok=True)

    def log_tail(self, name: str, lines: int = 30) -> str:
        try:
            text = (self.run_dir / f"{name}.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __post_init__(self) -> None:
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        # Supervision: the services that should be running, when each last started, its back-off, and
        # when a dead one is due to start again.
        self._wanted: set[str] = set()
        self._started_at: dict[str, float] = {}
        self._backoff: dict[str, Backoff] = {}
        self._due: dict[str, float] = {}
        self.restarts: dict[str, int] = {}  # how many times each service was started again (attempts)

    # ------------------------------------------------------------------ start
    def start(self) -> Outputs:
        s = self.settings
        t0 = time.monotonic()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        owner = self.run_dir / "owner.pid"
        other = int(owner.read_text() or 0) if owner.exists() else 0
        if other and other != os.getpid() and _alive(other):
            raise StartError(f"another local cloud runs from {self.run_dir} (process {other}); stop it first")
        owner.write_text(str(os.getpid()))
        self._state_marker.unlink(missing_ok=True)  # left by a killed run
        for name in _SIGNATURES:  # services a killed run left behind in this run folder
            if self._pid(name) is not None:
                _log(f"stopping {name} left running by an earlier run")
                self._stop(name)
        ports = {"API_PORT": s.api_port, "MONGO_PORT": s.mongo_port, "LOCALSTACK_PORT": s.localstack_port,
                 "COGNITO_PORT": s.cognito_port}
        if s.spa and (FRONTEND / "package.json").exists():
            ports["SPA_PORT"] = s.spa_port
        for var, port in ports.items():
            if _port_busy(port):
                raise StartError(f"port {port} is in use (is `make up` already running? set {var} to move it)")
        try:
            self._start_localstack()
            self._start_mongo()
            cognito.spawn_local(self)
            self._wait_localstack()
            self._wait_mongo()
            t_deploy = time.monotonic()
            self.deploy()
            _log(f"template.yaml deployed onto LocalStack in {time.monotonic() - t_deploy:.1f} s")
            if s.persist:
                self.restore()
                # From here on the bucket is the truth and may be mirrored over .localdata/s3.
                self._state_marker.write_text("restored")
            self.admin_pool = cognito.ensure_local(self)
            self._write_env_file()
            for runner in RUNNERS:
                self._start_runner(runner)
            self._start_api()
            self._wait_api()
            for runner in RUNNERS:
                self._wait_runner(runner)
            if s.spa:
                self.start_spa()
        except BaseException:
            self.stop(save=False)
            raise
        _log(f"local cloud up in {time.monotonic() - t0:.1f} s")
        return self.outputs  # type: ignore[return-value]

    def _start_localstack(self) -> None:
        s = self.settings
        if not LOCALSTACK_PY.exists():
            raise StartError("LocalStack's venv is missing: run `make install`")
        listen = f"127.0.0.1:{s.localstack_port}"
        env = self._child_env({
            "GATEWAY_LISTEN": listen,
            "LOCALSTACK_HOST": listen,
            "SQS_ENDPOINT_STRATEGY": "path",
            "DNS_ADDRESS": "0",
            "SKIP_SSL_CERT_DOWNLOAD": "1",
            "DISABLE_EVENTS": "1",
            # Its own scratch per instance, so a test cloud never touches a user's.
            "FILESYSTEM_ROOT": str(self.run_dir / "localstack-fs"),
        })
        shutil.rmtree(self.run_dir / "localstack-fs", ignore_errors=True)
        self._spawn("localstack", [str(LOCALSTACK_PY), "-m", "localstack.runtime.main"], env)

    def _start_mongo(self) -> None:
        s = self.settings
        data = s.state_dir / "mongo"
        data.mkdir(parents=True, exist_ok=True)
        argv = [str(ROOT / ".venv" / "bin" / "secantusd-py"), "--host", "127.0.0.1", "--port", str(s.mongo_port),
                "--storage-path", str(data), "--cache-size", "256M", "--log-level", "WARNING"]
        if s.mongo_sync_on_commit:
            # Without it SecantusDB (WiredTiger, journal on, transaction_sync off) acknowledges a write
            # whose log record may still sit in the process's log buffer: a kill -9 then loses the last
            # acknowledged writes. With it, every commit is written and fsynced to the journal first.
            argv.append("--sync-on-commit")
        self._spawn("mongo", argv, self._child_env({}))

    def _wait_localstack(self, timeout: float = 90) -> None:
        url = f"{self.settings.endpoint}/_localstack/health"
        needed = ("s3", "sqs", "cloudformation", "secretsmanager")

        def ready() -> bool:
            services = json.loads(_http_get(url)[1]).get("services", {})
            return all(services.get(n) in ("available", "running") for n in needed)

        self._wait("localstack", ready, timeout)

    def _wait_mongo(self, timeout: float = 60) -> None:
        import pymongo

        def ready() -> bool:
            with pymongo.MongoClient(self.settings.mongo_uri, serverSelectionTimeoutMS=1000) as client:
                client.admin.command("ping")
            return True

        self._wait("mongo", ready, timeout)

    def _wait_api(self, timeout: float = 90) -> None:
        self._wait("api", lambda: _http_get(f"{self.settings.api_url}/api/health")[0] == 200, timeout)

    def _wait_runner(self, name: str = "runner", timeout: float = 120) -> None:
        self._wait(name, lambda: (self.run_dir / f"{name}.ready").exists(), timeout)

    def _wait(self, name: str, check: Any, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if not self.alive(name):
                raise StartError(f"{name} exited while starting; {self.run_dir / (name + '.log')}:\n{self.log_tail(name)}")
            try:
                if check():
                    return
            except Exception as exc:  # noqa: BLE001 - not up yet: connection refused, 503 ...
                last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.25)
        raise StartError(f"{name} not ready in {timeout:.0f} s ({last}); {self.run_dir / (name + '.log')}:\n"
                         f"{self.log_tail(name)}")

    # ------------------------------------------------------------------ deploy
    def deploy(self) -> Outputs:
        """Deploy template.yaml (functions off) onto LocalStack: Secrets Manager first, then the stack."""
        s = self.settings
        secrets = self.client("secretsmanager")
        secret_name = _param_default("MongoDbUriSecretName")
        try:
            secrets.create_secret(Name=secret_name, SecretString=s.mongo_uri)
        except secrets.exceptions.ResourceExistsException:
            secrets.put_secret_value(SecretId=secret_name, SecretString=s.mongo_uri)

        s3 = self.client("s3")
        artifacts = f"{s.stack_name}-artifacts"
        with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
            s3.create_bucket(Bucket=artifacts)
        body = json.dumps(cfn.package(cfn.load_template(), s3, artifacts))
        params = self.stack_parameters()
        kwargs = {
            "StackName": s.stack_name,
            "TemplateBody": body,
            "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()],
            "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
        }
        cf = self.client("cloudformation")
        try:
            cf.describe_stacks(StackName=s.stack_name)
            exists = True
        except cf.exceptions.ClientError:
            exists = False
        try:
            if exists:
                cf.update_stack(**kwargs)
            else:
                cf.create_stack(**kwargs)
        except cf.exceptions.ClientError as exc:
            if "No updates are to be performed" not in str(exc):
                raise
        stack = _wait_stack(cf, s.stack_name)
        out = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        self.outputs = Outputs(
            bucket=out["UploadsBucketName"],
            queue_url=out["InferenceQueueUrl"],
            dlq_url=out["InferenceDeadLetterQueueUrl"],
            queue_arn=out["InferenceQueueArn"],
            export_queue_url=out["ExportQueueUrl"],
            export_dlq_url=out["ExportDeadLetterQueueUrl"],
            model_parameter=out["ModelVersionParameterName"],
            compare_queue_url=out["CompareQueueUrl"],
            compare_dlq_url=out["CompareDeadLetterQueueUrl"],
        )
        return self.outputs

    def _mongo_uri_from_secret(self) -> str:
        # Read back as the function's {{resolve:secretsmanager:...}} reference would.
        if not hasattr(self, "_mongo_uri"):
            secret = self.client("secretsmanager").get_secret_value(SecretId=_param_default("MongoDbUriSecretName"))
            self._mongo_uri = secret["SecretString"]
        return self._mongo_uri

    def _write_env_file(self) -> None:
        env = self.service_env()
        env.update({"API_URL": self.settings.api_url, "SPA_URL": self.settings.spa_url})
        self.env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))

    # ------------------------------------------------------------------ services
    def stack_parameters(self) -> dict[str, str]:
        """What template.yaml is deployed with locally (the runner plays the function with the same)."""
        s = self.settings
        return {
            "DeployFunctions": "false",
            "SpaOrigin": s.spa_url,
            "InferenceTimeout": str(s.function_timeout),
            "QueueVisibilityTimeout": str(s.visibility_timeout),
            "MaxReceiveCount": str(s.max_receive_count),
            "MongoDbName": s.mongo_db,
        }

    def _start_runner(self, name: str = "runner") -> None:
        """One local Lambda runner (RUNNERS): the function's handler on its own queue."""
        function, queue_var = RUNNERS[name]
        env = self.service_env()
        ready = self.run_dir / f"{name}.ready"
        ready.unlink(missing_ok=True)
        argv = [str(VENV_PY), "-m", "infra.lambda_runner", "--function", function, "--queue-url", env[queue_var],
                "--ready-file", str(ready)]
        argv += [f"--parameter={key}={value}" for key, value in self.stack_parameters().items()]
        self._spawn(name, argv, self._child_env(env))

    def _start_api(self) -> None:
        chalice = ROOT / ".venv" / "bin" / "chalice"
        if not (ROOT / "api_app" / "app.py").exists():
            raise StartError("api_app/app.py is missing")
        # --no-autoreload: the reloader orphans a child that outlives a stop.
        argv = [str(chalice), "local", "--no-autoreload", "--host", "127.0.0.1", "--port", str(self.settings.api_port)]
        self._spawn("api", argv, self._child_env(self.service_env()), cwd=ROOT / "api_app")

    def start_spa(self) -> str | None:
        """Build the SPA when its sources are newer than frontend/dist, and serve it (with /config.json)."""
        if self.alive("spa"):
            return self.settings.spa_url
        if not (FRONTEND / "package.json").exists():
            return None
        dist = FRONTEND / "dist"
        if _spa_stale(dist):
            build_log = self.run_dir / "spa-build.log"
            _log(f"building the SPA (npm run build; log {build_log})")
            with build_log.open("ab") as log:
                if not (FRONTEND / "node_modules").exists():
                    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=FRONTEND, stdout=log,
                                   stderr=subprocess.STDOUT, check=True)
                result = subprocess.run(["npm", "run", "build"], cwd=FRONTEND, stdout=log, stderr=subprocess.STDOUT,
                                        check=False)
            if result.returncode != 0 or not (dist / "index.html").exists():
                raise StartError(f"the SPA build failed; see {build_log}")
        self._spawn_spa(dist)
        self._wait("spa", lambda: _http_get(self.settings.spa_url + "/")[0] == 200, 30)
        return self.settings.spa_url

    def _spawn_spa(self, dist: Path = FRONTEND / "dist") -> None:
        argv = [str(VENV_PY), "-m", "infra.spa_server", "--port", str(self.settings.spa_port), "--dir", str(dist),
                "--api-base-url", self.settings.api_url]
        if self.admin_pool is not None:  # the admin panel signs in against the pool on moto's server
            argv += ["--cognito-endpoint", self.admin_pool.endpoint + "/", "--cognito-client-id",
                     self.admin_pool.client_id]
        self._spawn("spa", argv, self._child_env({}))

    # ------------------------------------------------------------------ supervision
    def supervise(self, should_stop: Callable[[], bool], tick: float = 0.5) -> None:
        """Watch the running cloud until `should_stop()`: start again, with back-off, any service that
        died (the others keep serving), mirror the bucket every MIRROR_EVERY_S and run the sweeper every
        SWEEP_EVERY_S. `make up` runs it in the foreground; the resilience tests in a thread."""
        s = self.settings
        last_mirror = last_sweep = time.monotonic()
        # Messages restored at start keep their records' old `updated_at`: let them drain before sweeping.
        next_sweep_after = SWEEP_EVERY_S + s.max_receive_count * (s.visibility_timeout + s.function_timeout)
        while not should_stop():
            time.sleep(tick)
            self.watch_once()
            if s.persist and time.monotonic() - last_mirror > MIRROR_EVERY_S and self._state_marker.exists():
                with contextlib.suppress(Exception):
                    self.mirror_s3()
                last_mirror = time.monotonic()
            if time.monotonic() - last_sweep > next_sweep_after:
                try:
                    moved = {k: v for k, v in self.sweep().items() if v}
                    if moved:
                        _log(f"sweep: failed past their bound, by state, and orphaned objects deleted: {moved}")
                except Exception as exc:  # noqa: BLE001 - the database may be down for a moment: next time
                    _log(f"sweep failed: {type(exc).__name__}: {exc}")
                last_sweep, next_sweep_after = time.monotonic(), SWEEP_EVERY_S

    def watch_once(self, now: float | None = None) -> list[str]:
        """One look at every wanted service: a dead one is logged and given its back-off; one whose wait
        is over is started again. Returns the services started again."""
        restarted: list[str] = []
        order = [n for n in _WATCH_ORDER if n in self._wanted] + sorted(self._wanted - set(_WATCH_ORDER))
        for name in order:
            if name not in self._wanted:  # stopped meanwhile (a restart of LocalStack stops its dependants)
                continue
            now = time.monotonic() if now is None else now
            proc = self._procs.get(name)
            if proc is not None and proc.poll() is None:
                continue
            backoff = self._backoff.setdefault(name, Backoff())
            if name not in self._due:
                started = self._started_at.get(name)
                uptime = None if started is None else now - started
                delay = backoff.next_delay(uptime)
                self._due[name] = now + delay
                code = None if proc is None else proc.returncode
                ran = "" if uptime is None else f" after {uptime:.0f} s"
                message = (f"{name} exited unexpectedly (code {code}){ran}; starting it again in {delay:.0f} s "
                           f"(restart #{self.restarts.get(name, 0) + 1})")
                _log(f"{message}; last lines of {self.run_dir / (name + '.log')}:\n{self.log_tail(name, 15)}")
                self._note(name, message)
                continue
            if now < self._due[name]:
                continue
            del self._due[name]
            self.restarts[name] = self.restarts.get(name, 0) + 1
            try:
                self._restart(name)
            except Exception as exc:  # noqa: BLE001 - try again after the next back-off
                message = f"starting {name} again failed: {type(exc).__name__}: {exc}"
                _log(message)
                self._note(name, message)
                self._wanted.add(name)
                self._started_at.pop(name, None)  # counts as a run that never started
                continue
            restarted.append(name)
            _log(f"started {name} again")
        return restarted

    def _note(self, name: str, message: str) -> None:
        with contextlib.suppress(OSError), (self.run_dir / f"{name}.log").open("a") as log:
            log.write(f"\n---- {time.strftime('%Y-%m-%d %H:%M:%S')} supervisor: {message}\n")

    def _restart(self, name: str) -> None:
        """Start one dead service again, with whatever the services depending on it need."""
        old = self._procs.pop(name, None)
        if old is not None:  # what the dead process left in its group (it had its own session)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(old.pid, signal.SIGKILL)
        self._pidfile(name).unlink(missing_ok=True)
        if name == "localstack":
            self._restart_localstack()
        elif name == "mongo":
            self._start_mongo()  # the same data folder: what was acknowledged is on disk (--sync-on-commit)
        elif name == "cognito":
            self._restart_cognito()
        elif name in RUNNERS:
            self._start_runner(name)
        elif name == "api":
            self._start_api()
        elif name == "spa":
            self._spawn_spa()
        else:
            raise StartError(f"no way to start {name} again")

    def _restart_localstack(self) -> None:
        """LocalStack keeps its S3 and SQS in memory: a new one is empty. Deploy the template again,
        restore the bucket from its mirror (when persisting), and start the runner and the API on the
        new stack's outputs. Lost: messages that were in the queue or the DLQ (their records are ended
        by the sweeper), and objects written since the last mirror (their records are erased, as at
        `make up`; without persistence, every object)."""
        # The new bucket starts empty: never mirror it over .localdata/s3 before it is restored.
        self._state_marker.unlink(missing_ok=True)
        dependants = [n for n in (*RUNNERS, "api") if n in self._wanted]
        for name in dependants:
            self._stop(name, 10)
        self._wanted.update(dependants)  # still wanted, should what follows fail: retried with back-off
        self._start_localstack()
        try:
            self._wait_localstack()
            self.outputs = None
            self.deploy()
            if self.settings.persist:
                self.restore()
                self._state_marker.write_text("restored")
            self._write_env_file()
        except BaseException:
            self._stop("localstack", 10)  # half set up: the next attempt starts from a fresh one
            self._wanted.add("localstack")
            raise
        for name in dependants:
            self._wanted.discard(name)
            self._due.pop(name, None)
            self._backoff.pop(name, None)
            if name in RUNNERS:
                self._start_runner(name)
            else:
                self._start_api()
        _log(f"LocalStack started again: template deployed, bucket {self.outputs.bucket}"  # type: ignore[union-attr]
             + (", state restored from the mirror" if self.settings.persist else ""))

    def _restart_cognito(self) -> None:
        """moto keeps the pool in memory: make it again (same admin and password). Its id and client
        id change, so the API and the SPA start again with them; tokens issued before are refused."""
        cognito.spawn_local(self)
        try:
            self.admin_pool = cognito.ensure_local(self)
        except BaseException:
            self._stop("cognito", 5)  # no pool made: the next attempt starts from a fresh server
            self._wanted.add("cognito")
            raise
        if self.outputs is not None:
            self._write_env_file()
        for name, start in (("api", self._start_api), ("spa", self._spawn_spa)):
            if name in self._wanted:
                self._stop(name, 10)
                start()

    # ------------------------------------------------------------------ stop
    def stop(self, save: bool = True) -> None:
        """Stop in dependency order: front doors first, then the runner, then state is mirrored, then
        the stores."""
        owner = self.run_dir / "owner.pid"
        other = int(owner.read_text() or 0) if owner.exists() else 0
        if other and other != os.getpid() and _alive(other):
            _log(f"not stopping: the local cloud in {self.run_dir} belongs to process {other}")
            return
        self._stop("spa", 5)
        self._stop("api", 10)
        for runner in RUNNERS:
            self._stop(runner, 60)  # finishes the batch in hand
        self._stop("cognito", 5)
        # Mirror only a bucket that was fully restored: a half-restored one would erase the mirror.
        if save and self.settings.persist and self._state_marker.exists() and self.alive("localstack"):
            try:
                self._load_outputs()
                self.mirror_s3()
                self.save_queues()
            except Exception as exc:  # noqa: BLE001 - never leave services running because a mirror failed
                _log(f"could not mirror S3/SQS state: {type(exc).__name__}: {exc}")
        self._stop("localstack", 20)
        self._stop("mongo", 20)
        for runner in RUNNERS:
            (self.run_dir / f"{runner}.ready").unlink(missing_ok=True)
        self._state_marker.unlink(missing_ok=True)
        (self.run_dir / "owner.pid").unlink(missing_ok=True)

    def _load_outputs(self) -> None:
        if self.outputs is not None:
            return
        env = dict(line.split("=", 1) for line in self.env_file.read_text().splitlines() if "=" in line)
        arn = self.client("sqs").get_queue_attributes(QueueUrl=env["INFERENCE_QUEUE_URL"], AttributeNames=["QueueArn"])
        self.outputs = Outputs(env["UPLOADS_BUCKET"], env["INFERENCE_QUEUE_URL"], env["INFERENCE_DLQ_URL"],
                               arn["Attributes"]["QueueArn"], env.get("EXPORT_QUEUE_URL", ""),
                               env.get("EXPORT_DLQ_URL", ""), env.get("MODEL_PARAMETER", ""),
                               env.get("COMPARE_QUEUE_URL", ""), env.get("COMPARE_DLQ_URL", ""))

    # ------------------------------------------------------------------ persistence
    @property
    def _s3_dir(self) -> Path:
        return self.settings.state_dir / "s3"

    def mirror_s3(self) -> int:
        """Make .localdata/s3 equal to the bucket (incremental by ETag; erased objects are erased here too)."""
        assert self.outputs is not None
        s3 = self.client("s3")
        objects_dir = self._s3_dir / "objects"
        manifest_path = self._s3_dir / "manifest.json"
        old: dict[str, dict[str, Any]] = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
        new: dict[str, dict[str, Any]] = {}
        fetched = 0
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.outputs.bucket):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                path = _safe_path(objects_dir, key)
                if path is None:
                    continue
                if old.get(key, {}).get("etag") == obj["ETag"] and path.exists():
                    new[key] = old[key]
                    continue
                got = s3.get_object(Bucket=self.outputs.bucket, Key=key)
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(path.name + ".part")
                tmp.write_bytes(got["Body"].read())
                tmp.replace(path)
                new[key] = {"etag": obj["ETag"], "content_type": got.get("ContentType", "binary/octet-stream")}
                fetched += 1
        for key in set(old) - set(new):
            path = _safe_path(objects_dir, key)
            if path is not None:
                path.unlink(missing_ok=True)
        self._s3_dir.mkdir(parents=True, exist_ok=True)
        tmp = manifest_path.with_suffix(".part")
        tmp.write_text(json.dumps(new, indent=0))
        tmp.replace(manifest_path)
        return fetched

    def save_queues(self) -> None:
        """Save the messages still waiting (the runner is stopped), so `up` can send them again."""
        assert self.outputs is not None
        sqs = self.client("sqs")
        out = self.settings.state_dir / "sqs"
        out.mkdir(parents=True, exist_ok=True)
        for name, url in self.outputs.queues().items():
            if not url:
                continue
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
            in_flight = int(attrs["Attributes"].get("ApproximateNumberOfMessagesNotVisible", 0))
            # Failed attempts are invisible until their visibility timeout ends: wait for them once.
            deadline = time.monotonic() + (self.settings.visibility_timeout + 1 if in_flight else 0)
            saved: list[dict[str, Any]] = []
            while True:
                wait = 1 if time.monotonic() < deadline else 0
                got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait,
                                          VisibilityTimeout=600, MessageAttributeNames=["All"])
                messages = got.get("Messages", [])
                saved += [{"body": m["Body"], "attributes": m.get("MessageAttributes", {})} for m in messages]
                if not messages and time.monotonic() >= deadline:
                    break
            (out / f"{name}.json").write_text(json.dumps(saved))
            if saved:
                _log(f"saved {len(saved)} waiting message(s) of the {name}")

    def restore(self) -> None:
        """Put the mirrored objects back (notification paused), erase records whose original is gone,
        and send the saved messages again. Runs before the runner and the API start."""
        assert self.outputs is not None
        s3 = self.client("s3")
        bucket = self.outputs.bucket
        manifest_path = self._s3_dir / "manifest.json"
        manifest: dict[str, dict[str, Any]] = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
        restored: set[str] = set()
        if manifest:
            config = s3.get_bucket_notification_configuration(Bucket=bucket)
            config.pop("ResponseMetadata", None)
            s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
            try:
                for key, meta in manifest.items():
                    path = _safe_path(self._s3_dir / "objects", key)
                    if path is None or not path.exists():
                        continue
                    s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), ContentType=meta["content_type"])
                    restored.add(key)
            finally:
                s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
            self.mirror_s3()  # the manifest now carries LocalStack's new ETags
            _log(f"restored {len(restored)} object(s) into s3://{bucket}")
        self._erase_orphans(restored)
        sqs = self.client("sqs")
        for name, url in self.outputs.queues().items():
            path = self.settings.state_dir / "sqs" / f"{name}.json"
            saved = json.loads(path.read_text()) if path.exists() else []
            for i in range(0, len(saved), 10):
                entries = [{"Id": str(n), "MessageBody": m["body"], **({"MessageAttributes": m["attributes"]}
                            if m["attributes"] else {})} for n, m in enumerate(saved[i:i + 10])]
                sqs.send_message_batch(QueueUrl=url, Entries=entries)
            path.unlink(missing_ok=True)
            if saved:
                _log(f"re-sent {len(saved)} saved message(s) to the {name}")

    def sweep(self) -> dict[str, int]:
        """The bounded sweep over the local database and bucket, the same code as the SweepFunction."""
        from papila.adapters.aws import ImageBucket
        from papila.usecases import sweeper

        env = {**self.service_env(), "SWEEP_GRACE_S": str(SWEEP_GRACE_S)}
        bucket = ImageBucket(env["UPLOADS_BUCKET"], client=self.client("s3"))  # this process has no AWS_ENDPOINT_URL
        return sweeper.sweep_from_env(env, objects=bucket)

    def _erase_orphans(self, keys: set[str]) -> None:
        import pymongo
        from papila.core.keys import screening_prefixes

        with pymongo.MongoClient(self.settings.mongo_uri, serverSelectionTimeoutMS=3000) as client:
            col = client[self.settings.mongo_db]["screenings"]
            # The worker itself deletes an original it refused (a second upload with the same form, one
            # whose metadata cannot be removed): such a record keeps its result, it is no orphan.
            kept = {"status": {"$ne": "awaiting_upload"}, "original_replaced_at": {"$exists": False},
                    "original_object.removed": {"$exists": False}}
            orphans = [doc["_id"] for doc in col.find(kept, {"original_key": 1})
                       if doc.get("original_key") not in keys]
            if not orphans:
                return
            s3 = self.client("s3")
            for screening_id in orphans:
                for prefix in screening_prefixes(screening_id):
                    listed = s3.list_objects_v2(Bucket=self.outputs.bucket, Prefix=prefix).get("Contents", [])  # type: ignore[union-attr]
                    for obj in listed:
                        s3.delete_object(Bucket=self.outputs.bucket, Key=obj["Key"])  # type: ignore[union-attr]
                col.delete_one({"_id": screening_id})
            _log(f"erased {len(orphans)} record(s) whose original image was lost (no S3 mirror of it: "
                 "was the last `make up` killed?)")


# ---------------------------------------------------------------------- helpers
def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child (exited, not yet reaped) counts as gone.
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z":
            return False
    return True


def _port_busy(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _http_get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _wait_stack(cf: Any, name: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack = cf.describe_stacks(StackName=name)["Stacks"][0]
        status = stack["StackStatus"]
        if not status.endswith("IN_PROGRESS"):
            if status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
                events = cf.describe_stack_events(StackName=name)["StackEvents"]
                reasons = [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}" for e in events
                           if e.get("ResourceStatusReason")][:5]
                raise StartError(f"stack {name} ended {status}: {stack.get('StackStatusReason')} {reasons}")
            return stack
        time.sleep(0.25)
    raise StartError(f"stack {name} not deployed in {timeout:.0f} s")


def _param_default(name: str) -> str:
    return str(cfn.load_template()["Parameters"][name]["Default"])


def _safe_path(base: Path, key: str) -> Path | None:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        return None
    return base.joinpath(*parts)


def _spa_stale(dist: Path) -> bool:
    index = dist / "index.html"
    if not index.exists():
        return True
    built = index.stat().st_mtime
    sources = [FRONTEND / n for n in ("index.html", "package.json", "package-lock.json", "vite.config.ts")]
    sources += list(FRONTEND.glob("tsconfig*.json"))
    for folder in ("src", "public"):
        sources += [p for p in (FRONTEND / folder).rglob("*") if p.is_file()]
    return any(p.exists() and p.stat().st_mtime > built for p in sources)


# ---------------------------------------------------------------------- command line
def _up(cloud: LocalCloud) -> int:
    s = cloud.settings
    supervisor = s.run_dir / "supervisor.pid"
    s.run_dir.mkdir(parents=True, exist_ok=True)
    if supervisor.exists() and _alive(int(supervisor.read_text() or 0)):
        _log("already running (`make down` stops it)")
        return 1
    stopping = False
    started = False

    def on_signal(signum: int, _frame: Any) -> None:
        nonlocal stopping
        if stopping or not started:  # while starting, or a second Ctrl-C: no more waiting
            raise KeyboardInterrupt
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    supervisor.write_text(str(os.getpid()))
    rc = 0
    try:
        cloud.start()
        started = True
        print(f"\n  SPA  {s.spa_url}\n  API  {s.api_url}   (health: {s.api_url}/api/health)\n"
              f"  AWS  {s.endpoint}   (LocalStack)    MongoDB {s.mongo_uri}\n"
              f"  env  {cloud.env_file}   logs {s.run_dir}/*.log\n", flush=True)
        if cloud.admin_pool is not None:
            print(cognito.sign_in_help(cloud.admin_pool, cognito.password_source(s.state_dir),
                                       cognito.clinician_password_source(s.state_dir)) + "\n", flush=True)
        print("  Ctrl-C (or `make down`) stops everything.\n", flush=True)
        cloud.supervise(lambda: stopping)
    except StartError as exc:
        _log(str(exc))
        rc = 1
    except KeyboardInterrupt:
        rc = 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the orderly stop must not be cut short
        _log("stopping ...")
        cloud.stop()
        supervisor.unlink(missing_ok=True)
        _log("stopped")
    return rc


def _down(cloud: LocalCloud) -> int:
    supervisor = cloud.run_dir / "supervisor.pid"
    pid = int(supervisor.read_text() or 0) if supervisor.exists() else 0
    if pid and _alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 120
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        return 0 if not _alive(pid) else 1
    # No supervisor (it was killed): stop whatever its pid files still name.
    cloud.stop()
    supervisor.unlink(missing_ok=True)
    _log("stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.localcloud", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "down", "env"])
    args = parser.parse_args(argv)
    cloud = LocalCloud(Settings.from_env())
    if args.command == "up":
        return _up(cloud)
    if args.command == "down":
        return _down(cloud)
    if cloud.env_file.exists():
        sys.stdout.write(cloud.env_file.read_text())
        return 0
    _log("not running")
    return 1


if __name__ == "__main__":
    sys.exit(main())
