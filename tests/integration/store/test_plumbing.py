"""Store plumbing on both backends: migrations up and down, sessions, the CLI."""

from sqlalchemy import inspect, text

from gateway import store


def test_migrated_store_has_its_tables(store_app):
    tables = inspect(store_app.extensions["store.engine"]).get_table_names()
    assert "gateway_meta" in tables
    assert store.current_revision(store_app) is not None


def test_session_scope_commits_and_rolls_back(store_app):
    from datetime import datetime, timezone

    from gateway.store.models import GatewayMeta

    now = datetime.now(timezone.utc)
    with store.session_scope(store_app) as session:
        session.merge(GatewayMeta(key="probe", value="1", updated_at=now))
    try:
        with store.session_scope(store_app) as session:
            session.merge(GatewayMeta(key="probe", value="2", updated_at=now))
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    with store_app.extensions["store.engine"].connect() as conn:
        assert conn.execute(text("SELECT value FROM gateway_meta WHERE key='probe'")).scalar() == "1"
        conn.execute(text("DELETE FROM gateway_meta WHERE key='probe'"))
        conn.commit()


def test_cli_db_upgrade_on_an_empty_sqlite_store(tmp_path):
    from gateway import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path}/fresh.sqlite3"})
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "current"]).output.startswith("empty")
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "store at revision" in result.output
    result = runner.invoke(args=["db", "downgrade", "base"])
    assert result.exit_code == 0
    assert "gateway_meta" not in inspect(app.extensions["store.engine"]).get_table_names()


def test_readyz_reports_the_store(client):
    answer = client.get("/readyz")
    assert answer.status_code == 200
    assert answer.get_json()["revision"]
