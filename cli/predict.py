"""``petpro predict …``: train the customer models, back-test lifetime value, list model versions.

- ``petpro predict train`` — churn risk and lifetime value trained on the current publication
  (new versions under ``$PETPRO_HOME/models/``); prints the holdout evaluation of both next to
  their baselines. The next publication (``petpro refresh``) scores every customer with them.
- ``petpro predict evaluate --calibration-end DATE [--holdout-end DATE]`` — fits BG/NBD and
  Gamma–Gamma on the transactions up to DATE and predicts the holdout: fitted parameters,
  predicted vs actual repeat transactions in total and per customer. Saves nothing.
- ``petpro predict models`` — the saved versions and their evaluation rows.
"""

from __future__ import annotations

from datetime import date

import typer
from rich.console import Console
from rich.table import Table

from petpro.settings import get_settings

console = Console()
predict_app = typer.Typer(
    help="Customer predictions: churn risk, lifetime value (train, evaluate, models).",
    no_args_is_help=True,
)


def _num(value: float | None, digits: int = 4) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def print_churn(training, out: Console = console) -> None:
    """The churn model beside its recency baseline on the holdout snapshot, and calibration."""
    from predictions.churn import BASELINE, HORIZON_DAYS, MODEL

    out.print(
        f"churn: trained on {training.n_train:,} customer snapshots "
        f"({', '.join(d.isoformat() for d in training.train_snapshots)}); held-out snapshot "
        f"{training.holdout_snapshot} ({training.n_holdout:,} active customers, outcome over "
        f"the next {HORIZON_DAYS} days)"
    )
    table = Table(title="churn: holdout evaluation")
    table.add_column("metric")
    table.add_column(MODEL, justify="right")
    table.add_column(BASELINE, justify="right")
    for name, value in training.metrics.items():
        table.add_row(name, _num(value), _num(training.baseline_metrics.get(name)))
    out.print(table)
    cal = Table(
        title="churn: calibration on the holdout (equal-width bins of predicted probability)"
    )
    for col in ("bin", "customers", "mean predicted", "observed churn", "baseline customers",
                "baseline predicted", "baseline observed"):  # fmt: skip
        cal.add_column(col, justify="right")
    for row, base in zip(training.calibration, training.baseline_calibration, strict=True):
        cal.add_row(
            row["bin"], f"{row['customers']:,}", _num(row["mean_predicted"], 3),
            _num(row["observed_rate"], 3), f"{base['customers']:,}",
            _num(base["mean_predicted"], 3), _num(base["observed_rate"], 3),
        )  # fmt: skip
    out.print(cal)


def print_clv(evaluation, out: Console = console) -> None:
    """Fitted parameters and holdout figures of a lifetime-value back-test."""
    p = evaluation.params
    out.print(
        f"lifetime value: calibration up to {evaluation.calibration_end}, holdout the "
        f"{evaluation.holdout_days} days after it to {evaluation.holdout_end}; "
        f"{evaluation.customers:,} customers with a transaction by the calibration end"
    )
    params = Table(title="BG/NBD parameters (time unit: day)")
    for col in ("r", "alpha", "a", "b"):
        params.add_column(col, justify="right")
    params.add_row(_num(p.r), _num(p.alpha), _num(p.a), _num(p.b))
    out.print(params)
    spend = Table(title="Gamma-Gamma parameters per currency (spend per transaction day)")
    for col in ("currency", "p", "q", "gamma", "repeat customers", "model mean", "observed mean"):
        spend.add_column(col, justify="right")
    for row in evaluation.spend_by_currency:
        spend.add_row(
            row["currency"], _num(row["p"]), _num(row["q"]), _num(row["gamma"]),
            f"{row['repeat_customers']:,}", _num(row["population_mean_value"], 2),
            _num(row["observed_mean_value"], 2),
        )  # fmt: skip
    out.print(spend)
    figures = Table(title="holdout: repeat transactions (transaction days)")
    figures.add_column("figure")
    figures.add_column("BG/NBD", justify="right")
    figures.add_column("baseline: calibration rate", justify="right")
    m, b = evaluation.metrics(), evaluation.baseline_metrics()
    figures.add_row("predicted, total", _num(m["holdout_predicted_transactions"], 1),
                    _num(b["holdout_predicted_transactions"], 1))  # fmt: skip
    figures.add_row("actual, total", f"{evaluation.actual_total:,}", f"{evaluation.actual_total:,}")
    figures.add_row("error of the total", f"{m['holdout_total_error']:+.1%}",
                    f"{b['holdout_total_error']:+.1%}")  # fmt: skip
    figures.add_row("mean absolute error per customer", _num(m["holdout_mae_per_customer"], 3),
                    _num(b["holdout_mae_per_customer"], 3))  # fmt: skip
    figures.add_row("RMSE per customer", _num(m["holdout_rmse_per_customer"], 3), "—")
    out.print(figures)
    freq = Table(title="holdout per customer, by repeat transactions in the calibration period")
    for col in ("calibration repeats", "customers", "predicted mean", "actual mean"):
        freq.add_column(col, justify="right")
    for row in evaluation.by_frequency:
        freq.add_row(
            row["calibration_repeat_transactions"], f"{row['customers']:,}",
            _num(row["predicted_mean"], 3), _num(row["actual_mean"], 3),
        )  # fmt: skip
    out.print(freq)


@predict_app.command("train")
def train(seed: int = typer.Option(0, help="Random seed of the gradient boosting.")) -> None:
    """Train churn risk, lifetime value and the service recommender on the current publication."""
    train_and_report(get_settings(), seed=seed)


def train_and_report(settings, *, seed: int = 0, out: Console = console) -> None:
    """Train every model on the current publication and print their evaluation."""
    from predictions.recommend_train import train_recommender
    from predictions.train import train_models

    run = train_models(settings, seed=seed)
    out.print(
        f"trained on publication {run.publication['version']} "
        f"(high-water mark {run.publication['high_water_mark']})"
    )
    print_churn(run.churn, out)
    print_clv(run.clv.evaluation, out)
    out.print(
        f"saved churn_gbm {run.churn.version.version} and clv_bgnbd {run.clv.version.version} "
        f"under {settings.models_dir}"
    )
    rec = train_recommender(settings)
    table = Table("model", "role", "hit@5", "recall@10", "NDCG@10", "coverage", box=None)
    for name, role, hit, recall, ndcg, coverage in rec.evaluation.table():
        table.add_row(name, role, *(f"{v:.3f}" for v in (hit, recall, ndcg, coverage)))
    out.print(table)
    out.print(
        f"saved service_recommender {rec.version.version} ({rec.evaluation.chosen} chosen); "
        "the next publication (`petpro refresh`) scores with every new version"
    )


@predict_app.command("evaluate")
def evaluate(
    calibration_end: str = typer.Option(
        ..., "--calibration-end", help="Last day (YYYY-MM-DD) of the calibration period."
    ),
    holdout_end: str | None = typer.Option(
        None, "--holdout-end", help="Last day of the holdout (default: the high-water date)."
    ),
) -> None:
    """Back-test lifetime value: fit up to --calibration-end, predict the holdout after it."""
    from petpro.publication import open_current
    from predictions.clv import NoTransactionsError, evaluate_clv

    def day(name: str, text: str) -> date:
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise NoTransactionsError(f"{name} {text!r} is not a date: use YYYY-MM-DD") from None

    settings = get_settings()
    start = day("--calibration-end", calibration_end)
    end = day("--holdout-end", holdout_end) if holdout_end else None
    with open_current(settings.published_dir) as pub:
        evaluation = evaluate_clv(pub.con.cursor(), start, end)
    print_clv(evaluation)


@predict_app.command("models")
def models() -> None:
    """The saved model versions and their evaluation rows (what mart_model_evaluation publishes)."""
    from predictions.evaluation import gather
    from predictions.registry import versions

    settings = get_settings()
    root = settings.models_dir
    names = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    table = Table(title=f"model versions under {root}")
    for col in ("model", "version", "role", "metric", "value", "n"):
        table.add_column(col)
    rows = gather(v.evaluation() for m in names for v in versions(settings, m)).to_pylist()
    for r in rows:
        table.add_row(r["model"], r["model_version"], r["role"], r["metric"], _num(r["value"]),
                      "" if r["n"] is None else f"{r['n']:,}")  # fmt: skip
    console.print(table if rows else f"no trained model under {root}: run `petpro predict train`")


def register(app: typer.Typer) -> None:
    app.add_typer(predict_app, name="predict")
