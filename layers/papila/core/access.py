"""Who may read or change a screening (pure: no web, no database). The API asks `decide` for every
/api/screenings/{id}* route and the seed routes; admins use the admin API instead, where these rules do
not apply (an admin's token on the public routes is just a user's).

- An anonymous screening (no `owner`): the id alone reads the result (it travels in links and logs);
  its secret (`X-Screening-Secret`) reads the clinical feedback and writes (feedback, rerun, metadata,
  claim, delete). No secret: writes are 401 `secret_required`; a wrong one is refused on every route
  that reads the feedback or writes, 403 `secret_invalid`, never ignored.
- An owned screening (`owner`: the account's `sub`): only the owner's token or the screening's secret.
  Anyone else, id alone, another account's token, a wrong secret, gets `hidden` (404 `not_found`, the
  answer for an unknown id: whether it exists is not revealed), for reads and writes alike. Erasing it
  takes the owner's token: the secret alone gets `owner_only`.
- Claiming: an anonymous screening goes to the caller who proves it with its secret; claiming one you
  own already is a no-op; one another account owns, with its secret, is `already_owned`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Refusal(StrEnum):
    """Why an operation is refused; the API answers each with its own status and code."""

    HIDDEN = "hidden"  # 404 not_found: an owned screening, to a caller who is neither its owner nor has its secret
    SECRET_REQUIRED = "secret_required"  # 401: an anonymous screening's write without its secret
    SECRET_INVALID = "secret_invalid"  # 403: a secret that is not this screening's
    OWNER_ONLY = "owner_only"  # 403: an owned screening is erased by its owner's account only


class Claim(StrEnum):
    TAKE = "take"  # anonymous, the caller proved it with its secret: the caller becomes its owner
    ALREADY_YOURS = "already_yours"  # the caller owns it already: nothing changes
    ALREADY_OWNED = "already_owned"  # another account owns it (the caller has its secret): 409


@dataclass(frozen=True)
class Access:
    """Per operation: None when allowed, else why not."""

    result: Refusal | None  # the screening without its feedback: status, result, crop, heat map, report
    feedback: Refusal | None  # the clinical feedback as well
    write: Refusal | None  # feedback, rerun, metadata, claim
    erase: Refusal | None  # DELETE

    @property
    def may_read_result(self) -> bool:
        return self.result is None

    @property
    def may_read_feedback(self) -> bool:
        return self.feedback is None

    @property
    def may_write(self) -> bool:
        return self.write is None

    @property
    def may_erase(self) -> bool:
        return self.erase is None


FULL = Access(None, None, None, None)
HIDDEN = Access(Refusal.HIDDEN, Refusal.HIDDEN, Refusal.HIDDEN, Refusal.HIDDEN)


def decide(owner: str | None, caller: str | None, secret: bool | None) -> Access:
    """What a caller may do with a screening.

    owner: the screening's owner (an account's `sub`), None when anonymous. caller: the `sub` of the
    request's verified token, None without one. secret: None when no secret was given, else whether the
    one given is the screening's."""
    if owner:
        if caller is not None and caller == owner:
            return FULL
        if secret is True:
            return Access(None, None, None, Refusal.OWNER_ONLY)
        return HIDDEN
    if secret is True:
        return FULL
    refusal = Refusal.SECRET_REQUIRED if secret is None else Refusal.SECRET_INVALID
    return Access(None, refusal, refusal, refusal)


def claim(owner: str | None, caller: str, secret: bool | None) -> Claim | Refusal:
    """What claiming a screening does for a signed-in caller: a Claim, or the Refusal of the write."""
    if owner and owner == caller:
        return Claim.ALREADY_YOURS
    refused = decide(owner, caller, secret).write
    if refused is not None:
        return refused
    return Claim.TAKE if not owner else Claim.ALREADY_OWNED
