"""Extract and transform scale out; the links do not change with where they ran."""

import gc

import numpy as np
import pytest
import sqlalchemy as sa

from etl.errors import UsageError
from etl.executors import prepared
from etl.load.db import connect, migrate
from etl.pipeline import RUN_GC_THRESHOLD, run


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


def test_a_run_collects_cycles_less_often_and_gives_the_thresholds_back(tmp_path, samples):
    engine = connect(f"sqlite:///{tmp_path / 'gc.db'}")
    migrate(engine)
    before = gc.get_threshold()
    assert before != RUN_GC_THRESHOLD
    during: list[tuple[int, ...]] = []
    summary = run([samples], engine, heartbeat=lambda _batch: during.append(gc.get_threshold()))
    engine.dispose()
    assert summary.reconciles
    assert len(during) > 3 and set(during) == {RUN_GC_THRESHOLD}
    assert gc.get_threshold() == before


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


def _stored(engine) -> dict[str, list[tuple]]:
    """Every stored row of a run that two runs of the same input share (see ``_tables``),
    with the review queue and the batches' outcomes."""
    with engine.connect() as conn:
        reviews = sorted(map(tuple, conn.execute(sa.text(
            "SELECT record_key_a, record_key_b, person_a, person_b, score, status "
            "FROM match_reviews"))), key=repr)
        batches = sorted(map(tuple, conn.execute(sa.text(
            "SELECT command, status FROM batches"))), key=repr)
    return {**_tables(engine), "match_reviews": reviews, "batches": batches}


def test_chunks_written_beside_planning_store_what_one_thread_stores(pg_database,
                                                                    fresh_schema, samples):
    """PostgreSQL writes each chunk in a helper thread while the next is planned: every
    stored row, review pair, batch and per-file count is the one writing in turn gives."""
    stored = []
    for thread in (False, True):
        with fresh_schema(pg_database) as url:
            engine = connect(url)
            migrate(engine)
            summary = run([samples], engine, chunk_records=300,
                          writer_thread=thread)
            assert summary.reconciles and summary.read > 900
            stored.append({**_stored(engine), "issues": summary.issues,
                           "files": [f.__dict__ for f in summary.files],
                           "persons": (summary.persons_created, summary.persons_updated)})
            engine.dispose()
    assert len(stored[0]["batches"]) > 3 and stored[0]["match_reviews"]
    assert stored[1] == stored[0]


def test_a_chunk_that_fails_in_the_writer_thread_stops_the_run(pg_database, fresh_schema,
                                                               samples, monkeypatch):
    """A write that fails in the helper thread raises from the run; the chunks before it stay
    committed and none after it is written."""
    import etl.load.loader as loader

    real, calls = loader.insert_identifiers, []

    def third_fails(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(loader, "insert_identifiers", third_fails)
    with fresh_schema(pg_database) as url:
        engine = connect(url)
        migrate(engine)
        with pytest.raises(RuntimeError, match="disk full"):
            run([samples], engine, chunk_records=300, writer_thread=True)
        with engine.connect() as conn:
            batches = conn.execute(sa.text("SELECT status FROM batches")).scalars().all()
            records = conn.execute(sa.text("SELECT count(*) FROM source_records")).scalar_one()
        engine.dispose()
    assert batches == ["committed", "committed"] and len(calls) == 3
    assert 0 < records < 900


def test_sqlite_chunks_committed_in_groups_store_what_a_commit_each_stores(tmp_path, samples,
                                                                           monkeypatch):
    """SQLite commits several chunks at once (``Writer.GROUP_RECORDS``), each still its own
    batch in a savepoint: every stored row, review pair, batch and per-file count is the one a
    commit per chunk gives."""
    import etl.pipeline as pipeline

    stored, commits = [], []
    for group in (1, 10**9):
        monkeypatch.setattr(pipeline.Writer, "GROUP_RECORDS", group)
        real, n = pipeline.Writer.commit, []

        def counted(self, real=real, n=n):
            n.append(self.group is not None)
            real(self)

        monkeypatch.setattr(pipeline.Writer, "commit", counted)
        engine = connect(f"sqlite:///{tmp_path / f'group-{group}.db'}")
        migrate(engine)
        summary = run([samples], engine, chunk_records=300)
        assert summary.reconciles and summary.read > 900
        stored.append({**_stored(engine), "issues": summary.issues,
                       "files": [f.__dict__ for f in summary.files],
                       "persons": (summary.persons_created, summary.persons_updated),
                       "batch_ids": summary.batches})
        commits.append(sum(n))
        engine.dispose()
    assert len(stored[0]["batches"]) > 3 and stored[0]["match_reviews"]
    assert stored[1] == stored[0]
    assert commits == [len(stored[0]["batches"]), 1]


def test_a_chunk_that_fails_in_a_sqlite_group_takes_back_its_group_only(tmp_path, samples,
                                                                        monkeypatch):
    """A write that fails rolls back the chunks of its open group; the groups committed
    before it stay, and nothing after it is written. The third chunk fails: with a commit per
    chunk the first two stay, with one group for the run nothing does."""
    import etl.load.loader as loader
    import etl.pipeline as pipeline

    real = loader.insert_identifiers
    kept = {}
    for group in (1, 10**9):
        calls = []

        def third_fails(*args, calls=calls, **kwargs):
            calls.append(1)
            if len(calls) == 3:
                raise RuntimeError("disk full")
            return real(*args, **kwargs)

        monkeypatch.setattr(loader, "insert_identifiers", third_fails)
        monkeypatch.setattr(pipeline.Writer, "GROUP_RECORDS", group)
        engine = connect(f"sqlite:///{tmp_path / f'failed-{group}.db'}")
        migrate(engine)
        with pytest.raises(RuntimeError, match="disk full"):
            run([samples], engine, chunk_records=300)
        with engine.connect() as conn:
            batches = conn.execute(sa.text("SELECT status FROM batches")).scalars().all()
            records = conn.execute(sa.text("SELECT count(*) FROM source_records")).scalar_one()
            persons = conn.execute(sa.text("SELECT count(*) FROM persons")).scalar_one()
        engine.dispose()
        assert len(calls) == 3
        kept[group] = (batches, records > 0, persons > 0)
    assert kept == {1: (["committed", "committed"], True, True), 10**9: ([], False, False)}


def test_a_run_that_skips_looking_up_what_it_knows_is_new_stores_the_same(
        db_url, other_db_url, samples, tmp_path, monkeypatch, caplog):
    """A run does not look up records and persons its master index says the database cannot
    hold (``load_hints``). On a database already holding part of the input, with a clinic
    month exported twice (its episodes' keys in two chunks) and persons whose records span
    chunks, it stores exactly what a run that looks everything up stores."""
    import shutil

    import etl.pipeline as pipeline

    folder = tmp_path / "input"
    shutil.copytree(samples, folder, ignore=shutil.ignore_patterns("_truth"))
    month = (folder / "xml_38150_202506.xml").read_bytes()
    (folder / "xml_38150_202506_lan2.xml").write_bytes(month + b"\n")  # another hash
    import etl.load.loader as loader

    real, hints = pipeline.load_hints, []

    def spied(*args):
        hints.extend(real(*args))
        return hints[-len(args[1]):] if args[1] else []

    # What the loads look up: keys of records, ids of persons (a count per run).
    looked_up = {"records": 0, "persons": 0}
    record_status, known_persons = loader._record_status, loader._known_persons

    def status(conn, rec, unstored=None):
        looked_up["records"] += len(rec) if unstored is None else int((~unstored).sum())
        return record_status(conn, rec, unstored)

    def persons(conn, person_ids):
        looked_up["persons"] += len(person_ids)
        return known_persons(conn, person_ids)

    monkeypatch.setattr(loader, "_record_status", status)
    monkeypatch.setattr(loader, "_known_persons", persons)
    stored, lookups = [], []
    for url, hinted in ((db_url, True), (other_db_url, False)):
        monkeypatch.setattr(pipeline, "load_hints", spied if hinted else lambda *a: [])
        looked_up.update(records=0, persons=0)
        engine = connect(url)
        migrate(engine)
        with caplog.at_level("WARNING", logger="etl.pipeline"):
            run(sorted(folder.glob("registry_*")), engine)
            summary = run([folder], engine, chunk_records=300)
        assert summary.reconciles
        stored.append({**_stored(engine), "files": [f.__dict__ for f in summary.files],
                       "persons": (summary.persons_created, summary.persons_updated)})
        lookups.append(dict(looked_up))
        engine.dispose()
    unstored = np.concatenate([h.unstored for h in hints])
    new_person = np.concatenate([h.new_person for h in hints])
    assert 0 < unstored.sum() < len(unstored) and 0 < new_person.sum() < len(new_person)
    assert stored[0]["source_records"] and stored[1] == stored[0]
    # The hints were used: the run without them looked up every record and person
    assert lookups[1]["records"] - lookups[0]["records"] == unstored.sum()
    assert 0 < lookups[0]["persons"] < lookups[1]["persons"]
    assert not caplog.records  # no hint was wrong: no chunk written twice


def test_wrong_hints_cost_a_second_attempt_not_a_wrong_load(db_url, other_db_url, samples,
                                                          monkeypatch, caplog):
    """Should another writer have stored what the run took for new (``hssk load`` does not
    take the run lock), the chunk is refused on a unique key and written again with every
    record looked up: here every hint is wrong, on a second run of the same files."""
    import etl.pipeline as pipeline

    def all_wrong(keys, sizes, result):
        bounds = np.cumsum([0, *sizes])
        return [pipeline.LoadHint(keys[a:b], np.ones(b - a, bool), np.ones(b - a, bool))
                for a, b in zip(bounds[:-1], bounds[1:], strict=True)]

    stored = []
    for url, wrong in ((db_url, True), (other_db_url, False)):
        engine = connect(url)
        migrate(engine)
        run([samples], engine, chunk_records=300)
        if wrong:
            monkeypatch.setattr(pipeline, "load_hints", all_wrong)
        with caplog.at_level("WARNING", logger="etl.pipeline"):
            summary = run([samples], engine, chunk_records=300)
        monkeypatch.undo()
        assert summary.reconciles
        stored.append({**_stored(engine), "files": [f.__dict__ for f in summary.files]})
        engine.dispose()
    assert stored[1] == stored[0]
    assert any("written again" in r.getMessage() for r in caplog.records)

