"""A model comparison, the domain side: its states and its queue message. A comparison of a candidate with
the serving model is asked for through the admin API, which stores it `queued` beside the version in the
registry (comparison.json) and queues it; the compare function (papila.usecases.compare) takes it to
`running` and then `done` or `failed`. A job that dies leaves `queued`/`running` behind: `shown` reports it
failed (`comparison_stalled`) once its queue could no longer deliver it, so none stays unfinished forever."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from papila.core.records import iso, now

TIMEOUT_S = 900  # the compare function's timeout (template.yaml CompareFunction)
QUEUE_VISIBILITY_S = 6 * TIMEOUT_S  # template.yaml CompareQueue
MAX_RECEIVES = 3
STALLED_AFTER = timedelta(seconds=MAX_RECEIVES * (QUEUE_VISIBILITY_S + TIMEOUT_S) + 600)
UNFINISHED = ("queued", "running")


def message(candidate: str) -> str:
    return json.dumps({"papila_compare": candidate})


def candidate_of(body: Any) -> str | None:
    """The version a queue message asks to compare (None: not a compare message)."""
    candidate = body.get("papila_compare") if isinstance(body, dict) else None
    return candidate if isinstance(candidate, str) and candidate else None


def requested(candidate: str, current: str) -> dict[str, Any]:
    """A new comparison's state, stored before the job is queued."""
    return {"candidate": candidate, "current": current, "status": "queued", "requested_at": iso(now())}


def shown(state: dict[str, Any], at: datetime | None = None) -> dict[str, Any]:
    """The stored comparison as the API shows it: one its job can no longer finish is failed."""
    if state.get("status") not in UNFINISHED:
        return state
    try:
        since = datetime.fromisoformat(str(state.get("requested_at")))
    except ValueError:
        since = None
    if since is not None and (at or now()) - since <= STALLED_AFTER:
        return state
    return {**state, "status": "failed", "error": {"code": "comparison_stalled",
                                                   "message": "The comparison job did not finish; ask for it again."}}
