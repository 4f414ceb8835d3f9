"""Storage of the service: saved portfolios, every run (inputs, options, result) and fired
alerts, in SQLAlchemy 2 tables. SQLite file by default, PostgreSQL via a ``postgresql+psycopg``
URL. The schema is created and upgraded only by the Alembic migrations shipped in
``liqrisk/service/migrations`` (run by :meth:`Store.migrate` at startup)."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text, create_engine, event, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

MIGRATIONS = Path(__file__).with_name("migrations")


def now() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class Portfolio(Base):
    __tablename__ = "portfolios"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    document: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    def to_dict(self, document: bool = True) -> dict:
        d = {"id": self.id, "name": self.name, "created_at": _iso(self.created_at),
             "updated_at": _iso(self.updated_at)}
        if document:
            d["document"] = self.document
        return d


class Run(Base):
    """One evaluation: ``kind`` analyze | what-if | advise | cascade | watch. Cascade runs are
    jobs: ``status`` queued → running → done | failed | cancelled, with ``progress`` in [0, 1]."""

    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portfolio_id: Mapped[int | None] = mapped_column(ForeignKey("portfolios.id", ondelete="SET NULL"),
                                                     index=True, nullable=True)
    source: Mapped[str | None] = mapped_column(Text, nullable=True)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    options: Mapped[dict] = mapped_column(JSON)
    inputs: Mapped[dict] = mapped_column(JSON)
    result: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    def to_dict(self, full: bool = True) -> dict:
        d = {"id": self.id, "portfolio_id": self.portfolio_id, "source": self.source, "kind": self.kind,
             "status": self.status, "progress": self.progress, "options": self.options,
             "error": self.error, "created_at": _iso(self.created_at), "finished_at": _iso(self.finished_at)}
        if full:
            d.update(inputs=self.inputs, result=self.result)
        return d


class Alert(Base):
    """An alert rule crossing: ``rule`` (as written, e.g. ``p(1d)>=1%``) became true for
    ``account`` at ``value`` in run ``run_id``."""

    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    portfolio_id: Mapped[int | None] = mapped_column(ForeignKey("portfolios.id", ondelete="SET NULL"),
                                                     index=True, nullable=True)
    source: Mapped[str | None] = mapped_column(Text, nullable=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"), nullable=True)
    rule: Mapped[str] = mapped_column(String(200))
    account: Mapped[str] = mapped_column(String(200))
    value: Mapped[float] = mapped_column(Float)
    fired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    delivered: Mapped[str | None] = mapped_column(Text, nullable=True)

    def to_dict(self) -> dict:
        return {"id": self.id, "portfolio_id": self.portfolio_id, "source": self.source, "run_id": self.run_id,
                "rule": self.rule, "account": self.account, "value": self.value,
                "fired_at": _iso(self.fired_at), "delivered": self.delivered}


def _iso(t: datetime | None) -> str | None:
    if t is None:
        return None
    if t.tzinfo is None:          # SQLite returns naive datetimes; we only ever store UTC
        t = t.replace(tzinfo=timezone.utc)
    return t.isoformat().replace("+00:00", "Z")


def normalise_url(url: str) -> str:
    """``postgresql://`` → ``postgresql+psycopg://`` (psycopg 3 is the driver we ship); a bare
    path → a SQLite file URL."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    return url


def default_url() -> str:
    """``~/.liqrisk/liqrisk.db`` (override with ``LIQRISK_DATABASE_URL``)."""
    import os
    if os.environ.get("LIQRISK_DATABASE_URL"):
        return os.environ["LIQRISK_DATABASE_URL"]
    folder = Path.home() / ".liqrisk"
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / "liqrisk.db")


class Store:
    """The database of one service (or watch) process."""

    def __init__(self, url: str):
        self.url = normalise_url(url)
        kwargs = {"pool_pre_ping": True}
        if self.url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        self.engine = create_engine(self.url, **kwargs)
        if self.url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.session = sessionmaker(self.engine, expire_on_commit=False)

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        from alembic import command
        from alembic.config import Config
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def close(self) -> None:
        self.engine.dispose()

    # portfolios
    def add_portfolio(self, name: str, document: dict) -> Portfolio:
        with self.session.begin() as s:
            p = Portfolio(name=name, document=document, created_at=now(), updated_at=now())
            s.add(p)
        return p

    def portfolios(self) -> list[Portfolio]:
        with self.session() as s:
            return list(s.scalars(select(Portfolio).order_by(Portfolio.id)))

    def portfolio(self, pid: int) -> Portfolio | None:
        with self.session() as s:
            return s.get(Portfolio, pid)

    def update_portfolio(self, pid: int, name: str | None, document: dict | None) -> Portfolio | None:
        with self.session.begin() as s:
            p = s.get(Portfolio, pid)
            if p is None:
                return None
            if name is not None:
                p.name = name
            if document is not None:
                p.document = document
            p.updated_at = now()
        return p

    def delete_portfolio(self, pid: int) -> bool:
        with self.session.begin() as s:
            p = s.get(Portfolio, pid)
            if p is None:
                return False
            s.delete(p)
        return True

    # runs
    def add_run(self, kind: str, inputs: dict, options: dict, result: dict | None = None,
                portfolio_id: int | None = None, source: str | None = None, status: str = "done") -> Run:
        with self.session.begin() as s:
            r = Run(kind=kind, inputs=inputs, options=options, result=result, portfolio_id=portfolio_id,
                    source=source, status=status, progress=1.0 if status == "done" else 0.0,
                    created_at=now(), finished_at=now() if status == "done" else None)
            s.add(r)
        return r

    def update_run(self, rid: int, **fields) -> None:
        with self.session.begin() as s:
            r = s.get(Run, rid)
            for k, v in fields.items():
                setattr(r, k, v)
            if fields.get("status") in ("done", "failed", "cancelled"):
                r.finished_at = now()

    def run(self, rid: int) -> Run | None:
        with self.session() as s:
            return s.get(Run, rid)

    def runs(self, portfolio_id: int | None = None, source: str | None = None, limit: int = 100,
             kind: str | None = None) -> list[Run]:
        """Newest first."""
        q = select(Run).order_by(Run.id.desc()).limit(limit)
        if kind is not None:
            q = q.where(Run.kind == kind)
        return self._of(q, Run, portfolio_id, source)

    def _of(self, q, model, portfolio_id: int | None, source: str | None) -> list:
        """Rows of query ``q`` belonging to a portfolio and/or a watched source."""
        if portfolio_id is not None:
            q = q.where(model.portfolio_id == portfolio_id)
        if source is not None:
            q = q.where(model.source == source)
        with self.session() as s:
            return list(s.scalars(q))

    def interrupt_unfinished(self) -> int:
        """Jobs left queued/running by a stopped process are marked failed (nothing resumes them)."""
        with self.session.begin() as s:
            rows = list(s.scalars(select(Run).where(Run.status.in_(("queued", "running")))))
            for r in rows:
                r.status, r.error, r.finished_at = "failed", "interrupted: the server stopped", now()
        return len(rows)

    # alerts
    def add_alert(self, rule: str, account: str, value: float, run_id: int | None,
                  portfolio_id: int | None = None, source: str | None = None) -> Alert:
        with self.session.begin() as s:
            a = Alert(rule=rule, account=account, value=value, run_id=run_id, portfolio_id=portfolio_id,
                      source=source, fired_at=now())
            s.add(a)
        return a

    def set_delivered(self, alert_id: int, status: str) -> None:
        with self.session.begin() as s:
            s.get(Alert, alert_id).delivered = status

    def alerts(self, portfolio_id: int | None = None, source: str | None = None) -> list[Alert]:
        return self._of(select(Alert).order_by(Alert.id), Alert, portfolio_id, source)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.close()
