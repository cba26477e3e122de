"""What a relay family is: which questions it answers, how to ask them, how to read the replies."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .. import http
from ..balance import Balance, parse_models
from ..calls import MODELS, call, fan_out
from ..classify import failure
from ..info import RelayInfo

# What a family can answer for a key (or, for reachability, without one).
BALANCE = "balance"
VALIDITY = "validity"
LOG = "log"
REACHABILITY = "reachability"

# A 401/403 is read by the family: (status, reason) or None when its words are not recognised.
Denial = Callable[[int | None, str, object], tuple[str, str] | None]


@dataclass(frozen=True)
class Family:
    """One relay family: its name, what it can answer, how to detect it and look a key up."""

    name: str
    label: str
    can: frozenset[str]
    lookup: Callable[..., Balance]  # (base_url, key, timeout=) -> Balance, for a person waiting
    order: int = 50  # detection order: lower is asked first
    hosts: tuple[str, ...] = ()  # host names that settle detection (and their subdomains)
    detect_path: str | None = None  # keyless GET whose answer proves the family
    recognise: Callable[[http.Answer], bool] | None = None
    reach_path: str | None = None  # keyless GET that shows the relay is up (status probes)
    poll_paths: tuple[str, ...] = ()  # per-IP limited paths a routine poll spends (one-api)
    scope: str | None = None  # whose balance it publishes: "token", "account" or None
    money: tuple[str, ...] = field(default=())  # units its balances come in

    @property
    def publishes_balance(self) -> bool:
        """True when the family has a balance call at all."""
        return BALANCE in self.can


def family_info(unit: str | None = None) -> RelayInfo:
    """A RelayInfo for families without /api/status: amounts are already in `unit`."""
    return RelayInfo(display={"CNY": "CNY", None: "USD"}.get(unit, "USD"), answered=False)


def from_models(
    answer: http.Answer, denial: Denial | None = None, *, unit: str | None = None
) -> Balance:
    """The verdict /v1/models alone gives: the key works (200), is refused, or nothing answered."""
    info = family_info(unit)
    if answer.ok:
        balance = Balance(status="active", info=info, balance_published=False)
        balance.models = parse_models(answer.data)
        balance.answered_by.append(MODELS)
        return balance
    return refusal(info, [answer], denial)


def refusal(info: RelayInfo, answers: list[http.Answer], denial: Denial | None = None) -> Balance:
    """A Balance for answers that gave no figures: the family's own reading of a 401/403 first."""
    for answer in answers:
        if answer.kind == http.DENIED and denial is not None:
            read = denial(answer.status, answer.message or "", answer.data)
            if read is not None:
                status, reason = read
                return Balance(status=status, info=info, reason=reason, http_status=answer.status)
    status, reason, http_status, retry_in = failure(answers, collapsed=True)
    return Balance(
        status=status, info=info, reason=reason, http_status=http_status, retry_in=retry_in
    )


def ask(base_url: str, key: str, *paths: str, timeout) -> dict[str, http.Answer]:
    """GET each path with the key, all at once: one round trip for a family's lookup."""
    return fan_out({p: (lambda p=p: call(base_url, p, key, timeout=timeout)) for p in paths})


def models_call(base_url: str, key: str, timeout) -> http.Answer:
    """GET /v1/models with the key (never limited per IP, so no budget is spent)."""
    return call(base_url, MODELS, key, timeout=timeout)


def error_type(data: object) -> str:
    """error.type (or error.code) of an OpenAI-style error body, lower case."""
    err = data.get("error") if isinstance(data, dict) else None
    if not isinstance(err, dict):
        return ""
    return " ".join(str(err.get(k) or "") for k in ("type", "code")).lower()


def text_has(text: str, *marks: str) -> bool:
    """True when any mark occurs in the text, case-insensitively."""
    low = text.lower()
    return any(mark.lower() in low for mark in marks)


def round6(value: float | None) -> float | None:
    """Drop float dust from amounts."""
    return None if value is None else round(value, 6)
