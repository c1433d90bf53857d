"""`hssk explain`: why two records are, or are not, one person."""

from __future__ import annotations

import click

from etl.commands.common import Context, pass_context, threshold_options


def _who(r: dict[str, object], show_ids: bool) -> str:
    from etl.privacy import mask

    birth = "-".join(str(int(v)) if i == 0 else f"{int(v):02d}" for i, v in enumerate(
        (r.get("birth_year"), r.get("birth_month"), r.get("birth_day"))) if v == v and v)
    pid = r.get("personal_id")
    pid = f", ID {mask(pid, show_ids)}" if isinstance(pid, str) else ""
    return (f"{r['record_key']}: {r.get('full_name')}, born {birth or '?'}, sex "
            f"{r.get('sex_any') or '?'}, commune {r.get('commune_code') or '?'}{pid} "
            f"→ person {r['person_id']}")


@click.command("explain")
@click.argument("records", nargs=-1)
@click.option("--person", help="Explain every record of this person against its first one.")
@click.option("--show-ids", is_flag=True, help="Show ID numbers in full instead of masked.")
@threshold_options
@pass_context
def explain_cmd(obj: Context, records: tuple[str, ...], person: str | None, show_ids: bool,
                link_threshold: float, review_threshold: float) -> None:
    """Explain the match decision between RECORD_A and RECORD_B, comparison by comparison.

    Records are given as FILE:LOCATOR (as `hssk export links` writes them) or record keys.
    With --person, every record of that person is explained against its first record.

    Example: hssk explain "registry_14863_Pù_Nhi.csv:row=12" "bhxh_muong_lat.xlsx:D03-TS!57"
    """
    from etl.errors import UsageError
    from etl.explain import explain_pairs, find_record, person_records
    from etl.load.db import require_current
    from etl.match.decide import Thresholds

    engine = obj.engine()
    require_current(engine)
    thresholds = Thresholds(link_threshold, review_threshold)
    if person:
        keys = person_records(engine, person)
        pairs = [(keys[0], k) for k in keys[1:]]
        if not pairs:
            click.echo(f"person {person} has a single record: {keys[0]}")
            return
    elif len(records) == 2:
        pairs = [(find_record(engine, records[0]), find_record(engine, records[1]))]
    else:
        raise UsageError("give two records, or --person PERSON_ID")
    for e in explain_pairs(engine, pairs, thresholds):
        click.echo(f"A  {_who(e.a, show_ids)}")
        click.echo(f"B  {_who(e.b, show_ids)}")
        for label, level, weight in e.rows:
            click.echo(f"   {label:<16} {level:<34} {weight:+7.2f}")
        click.echo(f"   {'total':<16} {'':<34} {e.total:+7.2f} bits")
        click.echo(f"   {'with the prior':<16} {'':<34} {e.posterior:+7.2f} bits "
                   f"(probability {e.probability:.6f})")
        for line in e.text_en.split("; "):
            click.echo(f"   · {line}")
        click.echo(f"=> {e.decision}")
        click.echo("   (currently the same person)" if e.same_person_now
                   else "   (currently different persons)")
        click.echo("")


def register(group: click.Group) -> None:
    group.add_command(explain_cmd)
