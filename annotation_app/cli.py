"""``pixmo annotate``: serve the app, create users, import images into campaigns, export campaigns.

Heavy imports (uvicorn, the app) happen inside the commands so ``pixmo --help`` stays fast.
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any

import typer

app = typer.Typer(help="Annotation app: serve, users, import, export.", no_args_is_help=True)


def _settings(db: str | None, media: str | None):  # noqa: ANN202
    from annotation_app.settings import Settings

    kw: dict[str, Any] = {}
    if db:
        kw["database_url"] = db
    if media:
        kw["media_root"] = media
    return Settings(**kw)


def _engine(settings):  # noqa: ANN001, ANN202
    from annotation_app.db import make_engine, migrate

    migrate(settings.database_url)
    return make_engine(settings.database_url, synchronous=settings.sqlite_synchronous)


DB = typer.Option(None, "--db", help="database URL (default: PIXMO_APP_DATABASE_URL or sqlite:///var/annotation.db)")
MEDIA = typer.Option(None, "--media", help="media root, a folder or fsspec URL (default: var/media)")


@app.command()
def serve(host: str = typer.Option("127.0.0.1", help="address to listen on"),
          port: int = typer.Option(8000, help="port"),
          workers: int = typer.Option(1, help="server processes sharing the port and the database (more than 1 "
                                              "needs PostgreSQL; see docs/deploy.md)"),
          db: str = DB, media: str = MEDIA) -> None:
    """Run the web app with uvicorn (migrates the database first)."""
    import os

    import uvicorn

    from annotation_app.db import migrate
    from annotation_app.serving import ServeError, pg_connection_room, plan_workers, room_warning
    from annotation_app.settings import Settings

    if db:
        os.environ["PIXMO_APP_DATABASE_URL"] = db
    if media:
        os.environ["PIXMO_APP_MEDIA_ROOT"] = media
    url = Settings().database_url
    try:
        plan = plan_workers(url, workers)
    except ServeError as exc:
        raise typer.BadParameter(str(exc), param_hint="--workers") from None
    migrate(url)
    if workers > 1:  # each process gets its share of the connections (inherited by the workers)
        os.environ["PIXMO_APP_POOL_SIZE"] = str(plan.pool_size)
        os.environ["PIXMO_APP_PG_ASYNC_POOL_SIZE"] = str(plan.async_pool_size)
        warning = room_warning(plan, pg_connection_room(url))
        if warning:
            typer.echo(warning, err=True)
    typer.echo(f"serving on http://{host}:{port}/ ({workers} worker{'s' if workers > 1 else ''})")
    # proxy_headers off: the client address is the peer unless PIXMO_APP_TRUSTED_PROXIES says otherwise
    uvicorn.run("annotation_app.serve_demo:asgi_app", factory=True, host=host, port=port, workers=workers,
                log_level="warning", proxy_headers=False)


@app.command("create-user")
def create_user_cmd(username: str = typer.Argument(..., help="login name"),
                    role: str = typer.Option("annotator", help="annotator, reviewer, manager or admin"),
                    password: str = typer.Option(None, help="password (prompted when not given)"),
                    token: bool = typer.Option(False, help="also create an API token and print it"),
                    db: str = DB) -> None:
    """Create a user (and optionally an API token for scripts)."""
    from annotation_app.db import write_tx
    from annotation_app.security import AuthError, create_user, new_token

    pw = password or getpass.getpass("password: ")
    engine = _engine(_settings(db, None))
    try:
        with write_tx(engine) as conn:
            uid = create_user(conn, username, pw, role)
            tok = new_token(conn, uid, "cli")[1] if token else None
    except AuthError as exc:
        raise typer.BadParameter(str(exc)) from None
    typer.echo(f"created {role} {username!r} (id {uid})")
    if tok:
        typer.echo(f"API token (shown once): {tok}")


@app.command("import")
def import_cmd(campaign: str = typer.Argument(..., help="campaign name (created if missing)"),
               folder: Path = typer.Option(None, help="folder of JPEG/PNG/WebP images"),
               urls: Path = typer.Option(None, help="text file with one image URL per line"),
               shards: str = typer.Option(None, help="shard directory (pixmo.shards); pixmo-count records make a counting campaign"),
               task_type: str = typer.Option(None, help="pointing or counting (default: from the shards, else pointing)"),
               label: str = typer.Option("", help="what to count (counting campaigns over plain images)"),
               instructions: str = typer.Option("", help="instructions shown to annotators"),
               overlap: int = typer.Option(1, help="annotators per item"),
               gold: bool = typer.Option(False, help="the shard records are gold answers"),
               gold_threshold: float = typer.Option(None, help="pause annotators whose gold score falls below this (0-1)"),
               gold_min_items: int = typer.Option(5, help="gold items scored before an annotator can be paused"),
               allow_private: bool = typer.Option(False, help="allow URLs on private/loopback addresses"),
               db: str = DB, media: str = MEDIA) -> None:
    """Import images into a campaign from a folder, a URL list or shards."""
    from sqlalchemy import select

    from annotation_app.campaigns import (
        CampaignIn,
        create_campaign,
        folder_images,
        import_images,
        import_shards,
        url_images,
    )
    from annotation_app.db import read_tx, write_tx
    from annotation_app.media import MediaStore
    from annotation_app.models import Campaign

    if sum(x is not None for x in (folder, urls, shards)) != 1:
        raise typer.BadParameter("give exactly one of --folder, --urls, --shards")
    s = _settings(db, media)
    engine = _engine(s)
    store = MediaStore(s.media_root)
    if task_type is None:
        task_type = _guess_task_type(shards) if shards else ("counting" if label else "pointing")
    with read_tx(engine) as conn:
        cid = conn.execute(select(Campaign.id).where(Campaign.name == campaign)).scalar()
    config: dict[str, object] = {"label": label} if label else {}
    if gold_threshold is not None:
        config.update(gold_threshold=gold_threshold, gold_min_items=gold_min_items)
    if cid is None:
        with write_tx(engine) as conn:
            cid = create_campaign(conn, CampaignIn(name=campaign, task_type=task_type, instructions=instructions,
                                                   overlap=overlap, config=config), None)
        typer.echo(f"created {task_type} campaign {campaign!r} (id {cid})")
    if shards:
        n = import_shards(engine, store, cid, shards, as_gold=gold)
    elif folder:
        n = import_images(engine, store, cid, folder_images(folder), max_bytes=s.max_image_bytes)
    else:
        lines = urls.read_text().splitlines()
        n = import_images(engine, store, cid, url_images(lines, allow_private or s.allow_private_urls, s.max_image_bytes),
                          urls=True, max_bytes=s.max_image_bytes)
    typer.echo(f"{n} items in campaign {campaign!r}")


def _guess_task_type(source: str) -> str:
    from pixmo.shards import iter_samples

    for sample in iter_samples(source):
        if any(a.subset == "pixmo-count" for a in sample.annotations):
            return "counting"
    return "pointing"


@app.command()
def export(campaign: str = typer.Argument(..., help="campaign name"),
           out: Path = typer.Option(..., help="output directory (shards) or .json file (coco)"),
           fmt: str = typer.Option("shards", "--format", help="shards or coco"),
           subset: str = typer.Option(None, help="pixmo-points or pixmo-count (default: the task type's first)"),
           include_unreviewed: bool = typer.Option(False, help="also export submitted, not yet reviewed answers"),
           overwrite: bool = typer.Option(False, "--overwrite", help="replace an earlier export at --out"),
           db: str = DB, media: str = MEDIA) -> None:
    """Export a campaign's accepted answers to PixMo shards or COCO-keypoints JSON."""
    from sqlalchemy import select

    from annotation_app.db import read_tx
    from annotation_app.export import export_shards
    from annotation_app.export_jobs import write_coco
    from annotation_app.media import MediaStore
    from annotation_app.models import Campaign

    s = _settings(db, media)
    engine = _engine(s)
    with read_tx(engine) as conn:
        cid = conn.execute(select(Campaign.id).where(Campaign.name == campaign)).scalar()
    if cid is None:
        raise typer.BadParameter(f"no campaign named {campaign!r}")
    if fmt == "coco":
        if out.exists() and not overwrite:
            raise typer.BadParameter(f"{out} exists; pass --overwrite to replace it")
        data = write_coco(engine, cid, out, include_unreviewed)  # the admin page's download is this file
        typer.echo(f"wrote {len(data['annotations'])} keypoints on {len(data['images'])} images to {out}")
    elif fmt == "shards":
        manifest = export_shards(engine, MediaStore(s.media_root), cid, out, subset=subset,
                                 include_unreviewed=include_unreviewed, mode="overwrite" if overwrite else "new")
        typer.echo(f"wrote {json.loads(manifest.read_text())['num_samples']} samples; manifest {manifest}")
    else:
        raise typer.BadParameter("--format must be shards or coco")


@app.command()
def reinstate(campaign: str = typer.Argument(..., help="campaign name"),
              username: str = typer.Argument(..., help="the paused annotator"),
              db: str = DB) -> None:
    """Reinstate an annotator that gold gating paused in a campaign."""
    from sqlalchemy import select

    from annotation_app.db import write_tx
    from annotation_app.gating import GateError, reinstate
    from annotation_app.members import MemberError, user_id_of
    from annotation_app.models import Campaign

    try:
        with write_tx(_engine(_settings(db, None))) as conn:
            cid = conn.execute(select(Campaign.id).where(Campaign.name == campaign)).scalar()
            if cid is None:
                raise GateError(f"no campaign named {campaign!r}")
            reinstate(conn, cid, user_id_of(conn, username), None)
    except (GateError, MemberError) as exc:
        raise typer.BadParameter(str(exc)) from None
    typer.echo(f"reinstated {username!r} in campaign {campaign!r}")


@app.command()
def assign(campaign: str = typer.Argument(..., help="campaign name"),
           usernames: list[str] = typer.Argument(..., help="users to assign (or, with --remove, to unassign)"),
           remove: bool = typer.Option(False, "--remove", help="unassign them instead"),
           db: str = DB) -> None:
    """Assign users to a campaign: a campaign with members is open to its members only."""
    from sqlalchemy import select

    from annotation_app import members
    from annotation_app.db import write_tx
    from annotation_app.models import Campaign

    try:
        with write_tx(_engine(_settings(db, None))) as conn:
            cid = conn.execute(select(Campaign.id).where(Campaign.name == campaign)).scalar()
            if cid is None:
                raise members.MemberError(404, f"no campaign named {campaign!r}")
            if remove:
                for u in usernames:
                    members.remove(conn, cid, members.user_id_of(conn, u), None)
            else:
                members.add(conn, cid, usernames, None)
            names = [m["username"] for m in members.members(conn, cid)]
    except members.MemberError as exc:
        raise typer.BadParameter(str(exc)) from None
    typer.echo(f"campaign {campaign!r} is assigned to: {', '.join(names) if names else 'nobody (open to all)'}")


def _register_plugins() -> None:
    from annotation_app.admin_cli import register as admin
    from annotation_app.agreement_cli import register as agreement
    from annotation_app.speech.cli import register as speech

    speech(app)
    agreement(app)
    admin(app)


_register_plugins()
