"""``make serve``: the app with a demo admin, manager, reviewer and annotator and two demo campaigns over
images bundled with scikit-image. Prints the URL and the logins."""

from __future__ import annotations

import io
import os

from annotation_app.settings import get_settings

DEMO_PASSWORD = "pixmo-demo"
DEMO_USERS = (("admin", "admin"), ("manager", "manager"), ("reviewer", "reviewer"), ("annotator", "annotator"))
POINTING_IMAGES = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry",
                   "colorwheel", "camera")
COUNTING_IMAGES = (("coins", "coin"), ("hubble_deep_field", "galaxy"))


def asgi_app():  # noqa: ANN201
    from annotation_app.app import create_app

    app = create_app(get_settings())
    _server_gc()
    return app


def _server_gc() -> None:
    """A server process keeps its start-up objects (routes, models, SQLAlchemy metadata) for life:
    freeze them out of the collector and collect the young generation less often, so a full
    collection does not stall requests (p99 at 300 cycles/s on PostgreSQL: benchmarks/README.md)."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def _png(name: str) -> bytes:
    from PIL import Image
    from skimage import data

    buf = io.BytesIO()
    Image.fromarray(getattr(data, name)()).save(buf, "PNG")
    return buf.getvalue()


def seed(settings=None) -> None:  # noqa: ANN001
    """Create the demo users and campaigns (idempotent)."""
    from sqlalchemy import select

    from annotation_app.campaigns import CampaignIn, create_campaign, import_images
    from annotation_app.db import make_engine, migrate, write_tx
    from annotation_app.media import MediaStore
    from annotation_app.models import Campaign, User
    from annotation_app.security import create_user

    s = settings or get_settings()
    migrate(s.database_url)
    engine = make_engine(s.database_url, synchronous=s.sqlite_synchronous)
    store = MediaStore(s.media_root)
    with write_tx(engine) as conn:
        for name, role in DEMO_USERS:
            if not conn.execute(select(User.id).where(User.username == name)).first():
                create_user(conn, name, DEMO_PASSWORD, role)
        have = set(conn.execute(select(Campaign.name)).scalars())
        specs = [CampaignIn(name="demo-pointing", task_type="pointing", overlap=1,
                            instructions="Write what you point at (e.g. 'cup handle'), then click every instance. "
                                         "If nothing matches, press Not present.")]
        specs += [CampaignIn(name=f"demo-count-{label}", task_type="counting", config={"label": label},
                             instructions=f"Click on every {label}.") for _img, label in COUNTING_IMAGES]
        new = {sp.name: create_campaign(conn, sp, None) for sp in specs if sp.name not in have}
    if "demo-pointing" in new:
        import_images(engine, store, new["demo-pointing"], ((n, _png(n)) for n in POINTING_IMAGES))
    for img, label in COUNTING_IMAGES:
        if f"demo-count-{label}" in new:
            import_images(engine, store, new[f"demo-count-{label}"], [(img, _png(img))])
    engine.dispose()


def main() -> None:
    import uvicorn

    s = get_settings()
    seed(s)
    host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "8000"))
    print(f"\nPixMo annotation app: http://{host}:{port}/")
    for name, role in DEMO_USERS:
        print(f"  login {name!r} / password {DEMO_PASSWORD!r} ({role})")
    print(f"  database {s.database_url}, media {s.media_root}\n", flush=True)
    uvicorn.run("annotation_app.serve_demo:asgi_app", factory=True, host=host, port=port, log_level="warning")


if __name__ == "__main__":
    main()
