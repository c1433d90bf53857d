"""`hssk person …`: look at a person, merge, split, and undo — every change audited."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from etl.commands.common import Context, pass_context


def by_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--by", metavar="NAME",
                        help="Who makes the change, for the audit (default: the OS user).")(f)


def _console() -> Console:
    return Console() if sys.stdout.isatty() else Console(width=160)


def _when(value: object) -> str:
    """A time to the minute; a date alone when there is no time of day."""
    text = "" if value is None else str(value)[:16]
    return text.removesuffix(" 00:00")


def render_change(change: Any) -> str:
    """One line for a change: what it did, to whom, and how to undo it."""
    summary = change.summary
    if change.kind == "merge":
        what = (f"merged person {summary.get('merged')} into {summary.get('kept')} "
                f"({summary.get('records_moved')} record(s) moved)")
    elif change.kind == "split":
        what = (f"split {len(summary.get('records', []))} record(s) off person "
                f"{summary.get('person')} into new person {summary.get('new_person')}")
    elif change.kind == "undo":
        what = f"undid change {summary.get('undid')} ({summary.get('kind')})"
    else:
        what = f"recorded {summary.get('pairs')} review decision(s)"
    undone = f"; undone by change {change.undone_by}" if change.undone_by else ""
    return (f"change {change.change_id} {_when(change.decided_at)} by {change.decided_by}: "
            f"{what}{undone}" + (f" — {change.reason}" if change.reason else ""))


@click.group("person")
def person_group() -> None:
    """Look at one person and correct how records are grouped into persons.

    Merges, splits and undos are audited (who, when, why, the rows before and after) and
    every change can be undone exactly with `hssk person undo CHANGE`.
    """


@person_group.command("show")
@click.argument("person_id")
@click.option("--show-ids", is_flag=True, help="Show ID numbers in full instead of masked.")
@pass_context
def show_cmd(obj: Context, person_id: str, show_ids: bool) -> None:
    """The golden record of PERSON_ID and, as a timeline, every source record behind it with
    its file, position, the batch that loaded it and how it was linked; then its changes.

    Example: hssk person show 2c54442794be0399
    """
    from etl.load.curation import show_person

    view = show_person(obj.engine(), person_id)
    console = _console()
    console.print(_golden_table(view, show_ids))
    console.print(_timeline_table(view, show_ids))
    for change in view.changes:
        console.print(render_change(change))


def _golden_table(view: Any, show_ids: bool) -> Table:
    from etl.export import partial_date
    from etl.privacy import mask

    p = view.person
    table = Table(title=f"person {p['person_id']}", show_header=False)
    for label, value in (
            ("name", p["full_name"]), ("sex", p["sex"]),
            ("birth date", partial_date(p["birth_year"], p["birth_month"], p["birth_day"],
                                        p["birth_date_precision"])),
            ("ethnicity", p["ethnicity_code"]), ("commune", p["permanent_commune_code"]),
            ("address", p["permanent_address"]), ("household head", p["household_head_name"]),
            ("mother", p["mother_name"]), ("phone", p["phone"]),
            *[(kind, f"{mask(value, show_ids)} ({status})")
              for kind, value, status in view.identifiers]):
        table.add_row(label, "" if value is None else str(value))
    return table


def _timeline_table(view: Any, show_ids: bool) -> Table:
    from etl.export import partial_date
    from etl.privacy import mask

    table = Table(title=f"{len(view.records)} source record(s), in the order they arrived")
    for col in ("loaded", "event", "kind", "file:locator", "name", "birth", "sex", "commune",
                "ID", "linked by", "current"):
        table.add_column(col, overflow="fold")
    for r in view.records:
        table.add_row(
            _when(r["loaded_at"]), _when(r["event_at"]), r["source_kind"],
            f"{r['file_name']}:{r['locator']}", r["full_name"] or "",
            partial_date(r["birth_year"], r["birth_month"], r["birth_day"],
                         r["birth_date_precision"]) or "",
            r["sex"] or "", r["commune_code"] or "",
            str(mask(r["personal_id"], show_ids) or ""), r["match_rule"] or "",
            "yes" if r["is_current"] else "no")
    return table


@person_group.command("merge")
@click.argument("person_a")
@click.argument("person_b")
@click.option("--reason", required=True, help="Why the two are one person (kept in the audit).")
@by_option
@pass_context
def merge_cmd(obj: Context, person_a: str, person_b: str, reason: str, by: str | None) -> None:
    """Merge PERSON_B into PERSON_A: B's records, clinical and history rows and identifiers
    move to A, B is removed, A's golden record is recomputed, and a "same" decision keeps
    them together in later runs. Refused for two different valid personal ID numbers.

    Example: hssk person merge 2c54442794be0399 72a53da637b69d39 --reason "same mother, same birth date"
    """
    from etl.load.curation import merge_persons

    change = merge_persons(obj.engine(), person_a, person_b, reason=reason, by=by)
    click.echo(render_change(change))
    click.echo(f"undo with: hssk person undo {change.change_id}")


@person_group.command("split")
@click.argument("person_id")
@click.option("--records", "records", multiple=True, required=True, metavar="RECORD",
              help="A record to split off, as FILE:LOCATOR or record key; repeat for more.")
@click.option("--reason", required=True, help="Why these records are someone else.")
@by_option
@pass_context
def split_cmd(obj: Context, person_id: str, records: tuple[str, ...], reason: str,
              by: str | None) -> None:
    """Split the given records off PERSON_ID into a new person (its golden record from its own
    records); "different" decisions keep the two apart in later runs.

    Example: hssk person split 0ad229ad08b343ac --records "xml_38150_202506.xml:3815020250600022" --reason "another child"
    """
    from etl.load.curation import split_person

    change = split_person(obj.engine(), person_id, records, reason=reason, by=by)
    click.echo(render_change(change))
    click.echo(f"undo with: hssk person undo {change.change_id}")


@person_group.command("history")
@click.argument("person_id")
@pass_context
def history_cmd(obj: Context, person_id: str) -> None:
    """Every audited change that touched PERSON_ID (merges, splits, undos, review decisions),
    oldest first: who, when, why, and whether it was undone.

    Example: hssk person history 2c54442794be0399
    """
    from etl.load.curation import history

    changes = history(obj.engine(), person_id)
    if not changes:
        click.echo(f"no changes recorded for person {person_id}")
    for change in changes:
        click.echo(render_change(change))


@person_group.command("undo")
@click.argument("change_id", type=int)
@click.option("--reason", help="Why the change is undone (kept in the audit).")
@by_option
@pass_context
def undo_cmd(obj: Context, change_id: int, reason: str | None, by: str | None) -> None:
    """Undo CHANGE exactly: every row it touched goes back to what it was. Refused when it was
    undone already or a later change or load built on it (undo that one first).

    Example: hssk person undo 12
    """
    from etl.load.curation import undo

    click.echo(render_change(undo(obj.engine(), change_id, by=by, reason=reason)))


def register(group: click.Group) -> None:
    group.add_command(person_group)
