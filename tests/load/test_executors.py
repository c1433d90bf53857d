"""Extract and transform scale out; the links do not change with where they ran."""

import pytest
import sqlalchemy as sa

from etl.errors import UsageError
from etl.executors import prepared
from etl.load.db import connect, migrate
from etl.pipeline import run


def _links(tmp_path, samples, link_partition, executor):
    engine = connect(f"sqlite:///{tmp_path / f'{executor}.db'}")
    migrate(engine)
    summary = run([samples], engine, executor=executor)
    assert summary.reconciles
    out = (summary.read, summary.rejected, link_partition(engine))
    engine.dispose()
    return out


def test_processes_and_a_dask_cluster_link_like_serial(tmp_path, samples, link_partition):
    serial = _links(tmp_path, samples, link_partition, "serial")
    assert len(serial[2]) > 300
    assert _links(tmp_path, samples, link_partition, "processes") == serial
    assert _links(tmp_path, samples, link_partition, "dask") == serial


def test_an_unknown_executor_is_a_usage_error(samples):
    with pytest.raises(UsageError, match="unknown executor 'spark'"):
        next(prepared([samples], executor="spark"))


def test_run_command_takes_the_executor(hssk, tmp_path, samples, link_partition):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert hssk("init", db=url).exit_code == 0
    result = hssk("run", "--executor", "processes", samples, db=url)
    assert result.exit_code == 0, result.output
    engine = connect(url)
    assert link_partition(engine) == _links(tmp_path, samples, link_partition, "serial")[2]
    engine.dispose()
    assert "--executor [serial|processes|dask]" in hssk("run", "--help").output


def _tables(engine) -> dict[str, list[tuple]]:
    """What a run stored, without the columns that differ between two runs of the same input
    (database ids, times)."""
    def kept(name: str) -> bool:
        return name != "id" and not name.endswith(("batch_id", "_at", "source_file_id",
                                                   "source_record_id"))

    out = {}
    with engine.connect() as conn:
        for table in ("source_records", "persons", "person_identifiers", "rejects",
                      "encounters", "immunizations"):
            columns = [c for c in sa.inspect(conn).get_columns(table) if kept(c["name"])]
            names = ", ".join(c["name"] for c in columns)
            out[table] = sorted(map(tuple, conn.execute(sa.text(f"SELECT {names} FROM {table}"))),
                                key=repr)
    return out


def test_a_transform_worker_stores_what_one_process_stores(tmp_path, samples):
    """Chunks transformed in the helper process while the next is extracted: every stored row
    is the one a run in one process stores."""
    stored = []
    for worker in (False, True):
        engine = connect(f"sqlite:///{tmp_path / f'worker-{worker}.db'}")
        migrate(engine)
        summary = run([samples], engine, chunk_records=300, transform_worker=worker)
        assert summary.reconciles and summary.read > 900
        stored.append({**_tables(engine), "issues": summary.issues, "read": summary.read})
        engine.dispose()
    assert all(v for k, v in stored[0].items() if k != "rejects")
    assert stored[1] == stored[0]
