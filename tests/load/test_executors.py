"""Extract and transform scale out; the links do not change with where they ran."""

import pytest

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
