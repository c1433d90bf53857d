"""Docs can't drift: every example in the README's command table runs, in the order given.

Two examples are adapted, not skipped: the PostgreSQL `init` runs against the test's SQLite file
(the same command otherwise), and `samples` writes 50 people instead of 40,000 to stay fast.
"""

import glob
import re
import shlex
import shutil
from pathlib import Path

from etl.cli import cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = re.compile(r"^\| `hssk[^|]*\|.*\| `(hssk [^`]+)` \|$")


def readme_examples() -> list[str]:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    return [m.group(1) for line in lines if (m := EXAMPLE.match(line))]


def test_readme_examples_run(runner, tmp_path, monkeypatch):
    examples = readme_examples()
    assert len(examples) >= 12
    shutil.copytree(ROOT / "data" / "samples", tmp_path / "data" / "samples")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HSSK_DB", f"sqlite:///{tmp_path / 'hssk.db'}")
    for example in examples:
        argv = shlex.split(example)[1:]
        if argv[:2] == ["--db", "postgresql://postgres@127.0.0.1/hssk"]:
            argv = argv[2:]
        argv = [str(tmp_path / "district") if a == "/tmp/district" else
                "50" if a == "40000" else a for a in argv]
        expanded: list[str] = []
        for a in argv:
            expanded.extend(sorted(glob.glob(a)) if "*" in a else [a])
        result = runner.invoke(cli, expanded, catch_exceptions=False)
        assert result.exit_code == 0, f"{example}\n{result.output}"
