"""``linewatch audit plan``: which units a person should review, and the design-weighted table
that ``metrics`` prints (docs/estimation.md, "Audits")."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from streams.cli.groups import CliGroups
from streams.cli.options import ModelOpt, StoreOpt, open_store, settings_with
from streams.cli.tables import DataTable, data_console, plain
from streams.errors import ConfigError

if TYPE_CHECKING:
    from streams.readiness.audits import AuditPlan
    from streams.readiness.design import DesignRate

__all__ = ["design_table", "register"]


def _fmt(rate: DesignRate) -> str:
    if rate.value is None or rate.lo is None or rate.hi is None:
        return "no data"
    return f"{100 * rate.value:.1f}% [{100 * rate.lo:.1f}–{100 * rate.hi:.1f}]"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def design_table(metrics: Any) -> DataTable | None:
    """Per slice: design-weighted FNR / FPR with intervals, labels used, the naive figures, the
    difference-estimator figures (where a lab calibration and sampled labels give them) and the
    audit that would narrow the wider interval most; ``None`` without labels."""
    from streams.readiness.metrics import ReadinessMetrics

    m: ReadinessMetrics = metrics
    rows = [s for s in (m.slices or [m.overall]) if s.design is not None]
    if not rows:
        return None
    t = DataTable(title="design-weighted (each label by how it was chosen; naive: labelled frames)")
    with_difference = any(s.difference is not None for s in rows)
    extra = ("FNR (difference)", "FPR (difference)") if with_difference else ()
    for col in (*m.by, "labels", "no design", "FNR", "naive FNR", "FPR", "naive FPR", *extra):
        t.add_column(col)
    t.add_column("next")
    for s in rows:
        d = s.design
        assert d is not None
        nxt = d.next_audit
        diff = s.difference
        cells = () if not with_difference else ("–", "–") if diff is None else (
            _fmt(diff.fnr), _fmt(diff.fpr)
        )  # fmt: skip
        t.add_row(
            *s.key.values(),
            str(d.labels),
            str(d.undesigned),
            _fmt(d.fnr),
            _pct(d.naive_fnr),
            _fmt(d.fpr),
            _pct(d.naive_fpr),
            *cells,
            "census" if d.census else ("–" if nxt is None else f"{nxt.units} {nxt.band}"),
        )
    return t


def _aware(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(f"{name} {text!r} is not an ISO time ({exc})") from exc
    if moment.tzinfo is None:
        raise ConfigError(f"{name} {text!r} needs a time zone, e.g. 2026-11-29T00:00:00Z")
    return moment


def register(app: typer.Typer, groups: CliGroups) -> None:
    """Add the ``audit`` group with ``audit plan``."""
    audit = typer.Typer(help="Audits: choose units to review.", no_args_is_help=True)
    app.add_typer(audit, name="audit")

    @audit.command("plan")
    def plan(  # noqa: PLR0917
        budget: Annotated[
            str, typer.Option(help="Units to review: '300/day', '1%' or a fraction '0.01'.")
        ],
        out: Annotated[
            Path, typer.Option(help="JSON lines of the units to review (event ids).")
        ] = Path("audit-plan.jsonl"),
        since: Annotated[
            str | None,
            typer.Option(
                help="Plan frames captured from (ISO); default: where the last plan ended."
            ),
        ] = None,
        until: Annotated[
            str | None, typer.Option(help="...and before (ISO); default: every frame after.")
        ] = None,
        floor: Annotated[int, typer.Option(min=1, help="Least units per stratum.")] = 1,
        seed: Annotated[int | None, typer.Option(min=0, help="Seed of the draw.")] = None,
        fmt: Annotated[
            Literal["table", "json"], typer.Option("--format", help="Summary as table or json.")
        ] = "table",
        store: StoreOpt = None,
        model: ModelOpt = None,
    ) -> None:
        """Choose units to review: stratified by slice and score band, Neyman-allocated to
        narrow every slice's FNR and FPR; stores each unit's inclusion probability.

        A label sent back for a chosen unit is weighted by it (copy each line's `audit` into the
        label, or leave it out: the plan is joined by event id).
        """
        from streams.inference.threshold import operating_threshold
        from streams.readiness.audit_plan import parse_budget
        from streams.readiness.audits import plan_audit

        settings = settings_with(store={"dsn": store}, inference={"model": model})
        wanted = parse_budget(budget)
        with open_store(settings, require_schema=True) as st:
            result = plan_audit(
                st,
                settings,
                operating_threshold(settings),
                wanted,
                since=_aware(since, "--since"),
                until=_aware(until, "--until"),
                floor=floor,
                seed=seed,
            )
        _write_units(result, out)
        _show(result, out, fmt)


def _write_units(result: AuditPlan, out: Path) -> None:
    """One JSON line per unit to review: its event, slice, band and the ``audit`` block."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for u in result.units:
            line = {
                "event_id": u.event_id,
                "line_id": u.stratum.slice[0],
                "shift": u.stratum.slice[1],
                "lighting": u.stratum.slice[2],
                "band": u.stratum.band,
                "audit": {
                    "policy": f"plan:{result.plan_id}",
                    "inclusion_probability": u.inclusion_probability,
                },
            }
            fh.write(json.dumps(line) + "\n")


def _show(result: AuditPlan, out: Path, fmt: str) -> None:
    """The plan's summary: JSON, or a table of its strata."""
    summary = result.summary()
    if fmt == "json":
        typer.echo(json.dumps({**summary, "out": str(out)}, indent=2))
        return
    t = DataTable(title=f"audit plan {result.plan_id}: {len(result.units)} of {result.frames}")
    for col in ("line", "shift", "lighting", "band", "frames", "sample", "p"):
        t.add_column(col)
    for s in summary["strata"]:
        p = s["inclusion_probability"]
        t.add_row(
            s["line_id"],
            s["shift"],
            s["lighting"],
            s["band"],
            str(s["frames"]),
            str(s["sample"]),
            "–" if p is None else f"{p:.4f}",
        )
    console = data_console()
    console.print(t)
    console.print(
        f"window {summary['window_start']} .. {summary['window_end']}; "
        f"{len(result.units)} units to review in {plain(out)} ({result.method} plan)"
    )
