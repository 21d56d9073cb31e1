"""``gpucloud admin recover-token``: mint a new operator token straight in the server's database.

The operator token is shown once, at the server's first start. When it is lost, this command — run on the server
host, by someone who can open the database (the SQLite file in the data directory, or PostgreSQL with the
server's URL and credentials) — adds a new token for an operator without the API, stored hashed like every
other. ``--revoke-others`` also revokes that operator's other tokens (when the old one leaked rather than got
lost). It refuses a database that is missing or not a gpucloud database of this version's schema, and never
creates one.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from gpucloud.cli.command import JSON, Arg, Group, Namespace
from gpucloud.cli.output import echo, print_json
from gpucloud.errors import InputError

TYPE_CHECKING = False  # not typing's: importing typing costs a tenth of a CLI command (docs/cli.md)
if TYPE_CHECKING:
    from typing import Any

commands = Group()
admin = commands.group("admin", "On the server host, with the database at hand: recover-token.")


def database_url(data_dir: str | None, url: str | None) -> tuple[str, str]:
    """The database to open and the option that named it: ``--database-url``, else ``--data-dir``'s
    ``gpucloud.db``, else the server's own defaults (``GPUCLOUD_DATABASE_URL``, ``GPUCLOUD_DATA_DIR``, ./data)."""
    if data_dir is not None and url is not None:
        raise InputError("--database-url", "give --data-dir or --database-url, not both")
    if url is not None:
        return url, "--database-url"
    if data_dir is not None:
        return f"sqlite:///{Path(data_dir) / 'gpucloud.db'}", "--data-dir"
    if os.environ.get("GPUCLOUD_DATABASE_URL"):
        return os.environ["GPUCLOUD_DATABASE_URL"], "GPUCLOUD_DATABASE_URL"
    where = os.environ.get("GPUCLOUD_DATA_DIR") or "./data"
    return f"sqlite:///{Path(where) / 'gpucloud.db'}", "--data-dir"


def recover(url: str, option: str, user: str | None, revoke_others: bool, now: float) -> dict[str, Any]:
    """Mint the token; what was done, with the raw token (the only time it exists)."""
    from sqlalchemy import select
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from gpucloud.service.auth import BOOTSTRAP_OPERATOR, ensure_operator, issue_token, list_tokens, revoke_token
    from gpucloud.service.store.engine import make_engine, make_sessionmaker
    from gpucloud.service.store.migrate import current_revision, head_revision
    from gpucloud.service.store.models import UserRow

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise InputError(option, "not a database URL", url) from None
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").is_file():
        raise InputError(option, "no gpucloud database here (give the server's --data-dir or --database-url)",
                         parsed.database)
    engine = make_engine(url)
    try:
        try:
            revision = current_revision(engine)
        except SQLAlchemyError as exc:
            why = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise InputError(option, f"cannot open the database: {why}", url) from None
        if revision is None:
            raise InputError(option, "not a gpucloud database (it has no schema)", url)
        if revision != head_revision():
            raise InputError(option, f"the database's schema is at {revision}, this gpucloud's is at "
                                     f"{head_revision()}: use the gpucloud version that the server runs", url)
        with make_sessionmaker(engine).begin() as session:
            operators = list(session.scalars(select(UserRow).where(UserRow.role == "operator").order_by(UserRow.id)))
            if user is not None:
                chosen = next((u for u in operators if u.name == user), None)
                if chosen is None:
                    raise InputError("--user", "no operator of that name", user)
            elif not operators:  # none at all: create the server's bootstrap operator, as a first start would
                raw = ensure_operator(session, now)
                assert raw is not None
                return {"user": BOOTSTRAP_OPERATOR, "token_id": None, "token": raw, "created_user": True,
                        "revoked": []}
            else:
                chosen = next((u for u in operators if u.name == BOOTSTRAP_OPERATOR), operators[0])
            revoked = []
            for token in list_tokens(session, [chosen.id]) if revoke_others else []:
                if token.revoked_at is None:
                    revoke_token(session, token, now)
                    revoked.append(token.id)
            row, raw = issue_token(session, chosen, f"recovered on {socket.gethostname()}", now)
            return {"user": chosen.name, "token_id": row.id, "token": raw, "created_user": False,
                    "revoked": revoked}
    finally:
        engine.dispose()


@admin.command(
    "recover-token",
    Arg("--data-dir", help="The server's data directory (its gpucloud.db; default: $GPUCLOUD_DATA_DIR or ./data)."),
    Arg("--database-url", help="The server's database URL instead, e.g. postgresql+psycopg://user@host/db "
                               "(default: $GPUCLOUD_DATABASE_URL)."),
    Arg("--user", help="The operator (default: admin, the one the first start created, else the oldest)."),
    Arg("--revoke-others", action="store_true", help="Also revoke that operator's other tokens."),
    JSON,
    epilog="example: sudo -u gpucloud gpucloud admin recover-token --data-dir /var/lib/gpucloud",
)
def recover_token(a: Namespace) -> None:
    """Mint a new operator token straight in the server's database, for when the one printed at the first start
    is lost. Run it on the server host: it opens the database itself, not the API.

    The token is printed once (alone on stdout); like every token only its hash is stored."""
    url, option = database_url(a.data_dir, a.database_url)
    out = recover(url, option, a.user, a.revoke_others, time.time())
    if a.as_json:
        print_json(out)
        return
    if out["revoked"]:
        echo(f"revoked {len(out['revoked'])} other token(s) of {out['user']}", err=True)
    note = f"created operator {out['user']}; its token" if out["created_user"] else \
        f"new token {out['token_id']} for operator {out['user']}"
    echo(f"{note} (shown only this once; store it now):", err=True)
    echo(out["token"])
