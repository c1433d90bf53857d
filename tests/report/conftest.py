"""A small linked district, loaded once per database kind for the report tests.

Two runs, so the trend has two batches: the registry first, then every other source plus a
hand-written registry file holding the cases the generator does not make (no commune, an
invalid and two inconsistent ID numbers, a formula-looking name, a date that rejects).
"""

from __future__ import annotations

import contextlib
import csv
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from etl.cli import cli

EXTRA_REGISTRY = [
    ["STT", "Số định danh cá nhân", "Họ, chữ đệm và tên", "Ngày, tháng, năm sinh", "Giới tính",
     "Dân tộc", "Nơi thường trú"],
    ["1", "038099000001", "=Lò Văn Xíu", "12/03/1990", "Nam", "Thái", ""],
    ["2", "0380", "Hờ Thị Dua", "1985", "Nữ", "Mông", "Bản Sa Ná - X. Pù Nhi - H. Mường Lát"],
    ["3", "038185000002", "Vàng A Chá", "05/06/1971", "Nam", "Mông",
     "Bản Sa Ná - X. Pù Nhi - H. Mường Lát"],
    # no such day and no four-digit year to keep: rejected
    ["4", "", "Lò Thị Ín", "31/02/71", "Nữ", "Thái", "Bản Sa Ná - X. Pù Nhi - H. Mường Lát"],
]


def invoke(*args: object, db: str):
    result = CliRunner().invoke(cli, ["--db", db, *map(str, args)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def district(request, samples: Path, tmp_path_factory) -> str:
    """URL of a database holding the samples district, loaded in two batches."""
    root = tmp_path_factory.mktemp("district")
    first, second = root / "registry", root / "others"
    first.mkdir()
    second.mkdir()
    for path in sorted(samples.iterdir()):
        if path.name.startswith(("_", ".")):
            continue
        shutil.copy(path, (first if path.name.startswith("registry_") else second) / path.name)
    with open(second / "registry_extra.csv", "w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows(EXTRA_REGISTRY)

    with contextlib.ExitStack() as stack:
        url = f"sqlite:///{root / 'hssk.db'}" if request.param == "sqlite" else \
            stack.enter_context(request.getfixturevalue("fresh_schema")(
                request.getfixturevalue("pg_database"), "r"))
        invoke("-q", "init", db=url)
        invoke("-q", "run", first, db=url)
        invoke("-q", "run", second, db=url)
        yield url


@pytest.fixture
def hssk_ok():
    """Invoke ``hssk --db URL …`` and insist on exit code 0; returns the click Result."""
    return invoke


@pytest.fixture
def engine(district: str):
    from etl.load.db import connect

    engine = connect(district)
    yield engine
    engine.dispose()
