"""``pixmo annotate`` commands for what a manager does on the admin page (registered by
annotation_app/cli.py): create a campaign with all its settings, open/pause/close it, set roles,
groups, assign a group, list items, mark gold. Import and export are ``import`` and ``export``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

DB = typer.Option(None, "--db", help="database URL (default: PIXMO_APP_DATABASE_URL or sqlite:///var/annotation.db)")


def _tx(db: str | None) -> Any:
    from annotation_app.cli import _engine, _settings
    from annotation_app.db import write_tx

    return write_tx(_engine(_settings(db, None)))


def _campaign_id(conn: Any, name: str) -> int:
    from sqlalchemy import select

    from annotation_app.admin import AdminError
    from annotation_app.models import Campaign

    cid = conn.execute(select(Campaign.id).where(Campaign.name == name)).scalar()
    if cid is None:
        raise AdminError(404, f"no campaign named {name!r}")
    return int(cid)


def _fail(exc: Exception) -> typer.BadParameter:
    return typer.BadParameter(str(exc))


def register(app: typer.Typer) -> None:  # noqa: C901 (one small function per command)
    from annotation_app.admin import AdminError
    from annotation_app.campaigns import ImportError_
    from annotation_app.members import MemberError

    errors = (AdminError, ImportError_, MemberError)

    @app.command("create-campaign")
    def create_campaign_cmd(name: str = typer.Argument(..., help="campaign name"),
                            task_type: str = typer.Option("pointing", help="task type (see the admin page's list)"),
                            instructions: str = typer.Option("", help="instructions shown to annotators"),
                            instructions_file: Path = typer.Option(None, help="read the instructions from this file"),
                            overlap: int = typer.Option(1, help="annotators per item"),
                            gold_overlap: int = typer.Option(1000, help="annotators per gold item"),
                            gold_threshold: float = typer.Option(None, help="pause annotators whose gold score falls below this (0-1)"),
                            gold_min_items: int = typer.Option(5, help="gold items scored before an annotator can be paused"),
                            gold_share: float = typer.Option(None, help="fraction of each annotator's tasks drawn from gold items, "
                                                                        "mixed in at random positions (default: gold items first)"),
                            lease_seconds: float = typer.Option(None, help="how long a claim is reserved (default: the server's)"),
                            min_expressions: int = typer.Option(None, help="pointing: expressions an image needs"),
                            label: str = typer.Option("", help="counting: what to count"),
                            db: str = DB) -> None:
        """Create a campaign (then add images with ``import``)."""
        from annotation_app.campaigns import CampaignIn, create_campaign

        config: dict[str, Any] = {"label": label} if label else {}
        if gold_threshold is not None:
            config.update(gold_threshold=gold_threshold, gold_min_items=gold_min_items)
        if lease_seconds is not None:
            config["lease_seconds"] = lease_seconds
        if gold_share is not None:
            config["gold_share"] = gold_share
        if min_expressions is not None:
            config["min_expressions"] = min_expressions
        text = instructions_file.read_text() if instructions_file else instructions
        try:
            spec = CampaignIn(name=name, task_type=task_type, instructions=text, overlap=overlap,
                              gold_overlap=gold_overlap, config=config)
            with _tx(db) as conn:
                cid = create_campaign(conn, spec, None)
        except (*errors, ValueError) as exc:
            raise _fail(exc) from None
        typer.echo(f"created {task_type} campaign {name!r} (id {cid})")

    @app.command("campaign-status")
    def campaign_status(campaign: str = typer.Argument(..., help="campaign name"),
                        status: str = typer.Argument(..., help="open, paused (no new claims) or closed (also hidden)"),
                        db: str = DB) -> None:
        """Open, pause or close a campaign (leases already held can still be submitted)."""
        from annotation_app.admin import set_status

        try:
            with _tx(db) as conn:
                old = set_status(conn, _campaign_id(conn, campaign), status, None)
        except errors as exc:
            raise _fail(exc) from None
        typer.echo(f"campaign {campaign!r}: {old} -> {status}")

    @app.command("set-role")
    def set_role(username: str = typer.Argument(..., help="user"),
                 role: str = typer.Argument(..., help="annotator, reviewer, manager or admin"),
                 db: str = DB) -> None:
        """Change a user's role (the CLI acts as an admin)."""
        from sqlalchemy import update

        from annotation_app.members import user_id_of
        from annotation_app.models import ROLES, User

        if role not in ROLES:
            raise typer.BadParameter(f"role must be one of {', '.join(ROLES)}")
        try:
            with _tx(db) as conn:
                conn.execute(update(User).where(User.id == user_id_of(conn, username)).values(role=role))
        except errors as exc:
            raise _fail(exc) from None
        typer.echo(f"{username!r} is now {role}")

    @app.command("group")
    def group(name: str = typer.Argument(..., help="group name"),
              usernames: list[str] = typer.Argument(..., help="users to add (or, with --remove, to take out)"),
              remove: bool = typer.Option(False, "--remove", help="take them out of the group instead"),
              db: str = DB) -> None:
        """Put users in a group (or take them out)."""
        from annotation_app import admin

        try:
            with _tx(db) as conn:
                if remove:
                    for u in usernames:
                        admin.remove_from_group(conn, name, u, None)
                else:
                    admin.add_to_group(conn, name, usernames, None)
                now_in: list[str] = next((g["usernames"] for g in admin.groups(conn) if g["name"] == name), [])
        except errors as exc:
            raise _fail(exc) from None
        typer.echo(f"group {name!r}: {', '.join(now_in) or 'empty'}")

    @app.command("assign-group")
    def assign_group(campaign: str = typer.Argument(..., help="campaign name"),
                     group: str = typer.Argument(..., help="group whose members to assign"),
                     db: str = DB) -> None:
        """Assign a campaign to every user now in a group."""
        from annotation_app import admin

        try:
            with _tx(db) as conn:
                added = admin.assign_group(conn, _campaign_id(conn, campaign), group, None)
        except errors as exc:
            raise _fail(exc) from None
        typer.echo(f"assigned {', '.join(added) if added else 'nobody new'} to {campaign!r}")

    @app.command("items")
    def items(campaign: str = typer.Argument(..., help="campaign name"),
              gold_only: bool = typer.Option(False, help="only gold items"),
              limit: int = typer.Option(100, help="rows"), offset: int = typer.Option(0, help="rows to skip"),
              db: str = DB) -> None:
        """List a campaign's items as JSON lines (id, original path, answers, gold)."""
        from annotation_app import admin

        try:
            with _tx(db) as conn:
                page = admin.items(conn, _campaign_id(conn, campaign), gold_only=gold_only, limit=limit, offset=offset)
        except errors as exc:
            raise _fail(exc) from None
        for it in page["items"]:
            typer.echo(json.dumps({k: it[k] for k in ("id", "source_path", "answers", "gold")}))
        typer.echo(f"{len(page['items'])} of {page['total']} items", err=True)

    @app.command("gold")
    def gold(item_id: int = typer.Argument(..., help="item id (see ``items``)"),
             from_answer: bool = typer.Option(False, "--from-answer", help="use its accepted (else submitted) answer"),
             gold_file: Path = typer.Option(None, "--json", help="a JSON file with the gold answer"),
             unmark: bool = typer.Option(False, "--unmark", help="make it a plain item again"),
             db: str = DB) -> None:
        """Mark an item gold (from its answer or a JSON file) or unmark it."""
        from annotation_app import admin
        from annotation_app.campaigns import set_gold

        if from_answer + (gold_file is not None) + unmark != 1:
            raise typer.BadParameter("give exactly one of --from-answer, --json, --unmark")
        try:
            value: dict[str, Any] | None
            with _tx(db) as conn:
                if from_answer:
                    value = admin.gold_from_answer(conn, item_id, None)
                else:
                    value = None if unmark else json.loads(gold_file.read_text())
                    set_gold(conn, item_id, value, None)
        except (*errors, json.JSONDecodeError) as exc:
            raise _fail(exc) from None
        typer.echo(f"item {item_id}: {'gold ' + json.dumps(value) if value else 'not gold'}")
