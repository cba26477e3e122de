"""Between the POST that starts a run and the GET that streams it, nothing stays in a worker.

The load balancer may send the two requests (and Stop) to different workers or machines, so the
run is handed over through the database, in a shape that keeps the promise "prompts and pasted
keys are never stored": the POST encrypts the run's request under a fresh one-time Fernet key,
stores only the ciphertext (a `playground_run` row, PENDING_SECONDS to live) and puts the
one-time key in the stream URL. The stream's GET claims the row once (a conditional UPDATE that
also wipes the ciphertext) and decrypts with the key from its URL. Neither half alone opens the
request: the database never sees the key, an access log never sees the ciphertext, and after the
claim the ciphertext is gone.

The row stays while the run streams: it is the owner's slot (MAX_LIVE_PER_OWNER across every
worker), renewed every RENEW_SECONDS, and carries Stop from whichever worker got that POST. A
stream that never arrives, or a worker that dies mid-stream, frees the slot when the row expires.
"""

from __future__ import annotations

import base64
import json

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, func, select, update

from database import db, db_now, lock_transaction

from .build import Column, Spec
from .models import RunSlot
from .runs import Run

PENDING_SECONDS = 60.0  # a started run waits this long for its stream
LEASE_SECONDS = 60.0  # a streaming run keeps its slot this long past its last renewal
RENEW_SECONDS = 15.0
MAX_LIVE_PER_OWNER = 4

_table = RunSlot.__table__


def open_slot(run: Run) -> str | None:
    """Store the run sealed; the one-time key for its stream URL, or None (too many open)."""
    # Count and insert as one step per owner, also when two workers start runs at once (the
    # DELETE is the first write: SQLite's write lock from here on).
    lock_transaction(f"playground-run {run.owner}")
    db.session.execute(delete(_table).where(_table.c.expires_at < db_now()))
    live = db.session.scalar(
        select(func.count()).select_from(_table).where(_table.c.owner == run.owner)
    )
    if live >= MAX_LIVE_PER_OWNER:
        db.session.commit()
        return None
    one_time = Fernet.generate_key()
    sealed = Fernet(one_time).encrypt(json.dumps(_plain(run)).encode())
    db.session.execute(
        _table.insert().values(
            id=run.id,
            owner=run.owner,
            sealed=sealed,
            claimed=False,
            stop=False,
            expires_at=db_now(PENDING_SECONDS),
        )
    )
    db.session.commit()
    return one_time.decode().rstrip("=")


def claim(run_id: str, owner: str, one_time: str) -> Run | None:
    """The run for its one stream; None when unknown, expired, someone else's or claimed."""
    mine = (_table.c.id == run_id) & (_table.c.owner == owner)
    waiting = mine & ~_table.c.claimed & (_table.c.expires_at > db_now())
    sealed = db.session.scalar(select(_table.c.sealed).where(waiting))
    won = db.session.execute(
        update(_table)
        .where(waiting)
        .values(claimed=True, sealed=None, expires_at=db_now(LEASE_SECONDS))
    ).rowcount
    db.session.commit()
    if not won or sealed is None:
        return None
    try:
        padded = one_time + "=" * (-len(one_time) % 4)
        plain = json.loads(Fernet(padded.encode()).decrypt(sealed))
    except (InvalidToken, ValueError, TypeError):
        release(run_id)
        return None
    return _run(run_id, plain)


def renew(run_id: str) -> bool:
    """Extend a streaming run's slot; False when Stop was asked for (on any worker)."""
    db.session.execute(
        update(_table).where(_table.c.id == run_id).values(expires_at=db_now(LEASE_SECONDS))
    )
    stop = db.session.scalar(select(_table.c.stop).where(_table.c.id == run_id))
    db.session.commit()
    return not stop


def stop_requested(run_id: str) -> bool:
    """Whether Stop was asked for on any worker (a read; the stream polls it)."""
    stop = db.session.scalar(select(_table.c.stop).where(_table.c.id == run_id))
    db.session.commit()
    return bool(stop)


def request_stop(run_id: str, owner: str) -> None:
    """Stop, for whichever worker streams the run (or, before its stream, so it never starts)."""
    db.session.execute(
        update(_table).where(_table.c.id == run_id, _table.c.owner == owner).values(stop=True)
    )
    db.session.commit()


def release(run_id: str) -> None:
    """The stream ended: free the slot."""
    db.session.execute(delete(_table).where(_table.c.id == run_id))
    db.session.commit()


def _plain(run: Run) -> dict:
    spec = run.spec
    return {
        "owner": run.owner,
        "base_url": run.base_url,
        "provider": run.provider,
        "key": run.key,
        "masked": run.masked,
        "prices": run.prices,
        "unit": run.unit,
        "columns": [
            [c.model, c.body, base64.b64encode(c.data).decode("ascii")] for c in spec.columns
        ],
        "repeat": spec.repeat,
        "stream": spec.stream,
        "mode": spec.mode,
        "schema": spec.schema,
        "prompt_text": spec.prompt_text,
    }


def _run(run_id: str, plain: dict) -> Run:
    spec = Spec(
        columns=[Column(m, body, base64.b64decode(data)) for m, body, data in plain["columns"]],
        repeat=plain["repeat"],
        stream=plain["stream"],
        mode=plain["mode"],
        schema=plain["schema"],
        prompt_text=plain["prompt_text"],
    )
    return Run(
        id=run_id,
        owner=plain["owner"],
        base_url=plain["base_url"],
        provider=plain["provider"],
        key=plain["key"],
        masked=plain["masked"],
        spec=spec,
        prices={model: tuple(pair) for model, pair in plain["prices"].items()},
        unit=plain["unit"],
        claimed=True,
    )
