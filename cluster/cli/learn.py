"""`octet learn`: train which signals to trust on Ray Train from the store's runs, judge the model
walk-forward and promote it only when it beats the champion; `octet models`: the registry."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from cluster.cli.common import ConfigOpt, UrlOpt, app, console, fail, group, settings_or_exit, start_ray, store_of

models_app = group("models", "The model registry: versions, their folds and verdicts; promote one by hand.")


def _f(x: object, digits: int = 3) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{float(x):.{digits}f}"  # type: ignore[arg-type]


@app.command()
def learn(config: ConfigOpt = Path("octet.yaml"), url: UrlOpt = None,
          run: Annotated[list[str] | None, typer.Option(help="A run to learn from (repeat); default: every run.")]
          = None,
          name: Annotated[str | None, typer.Option(help="The model's name (default: learning.model).")] = None,
          trials: Annotated[int | None, typer.Option(min=1, max=64, help="Ray Tune trials (learning.tune_trials).")]
          = None,
          workers: Annotated[int | None, typer.Option(min=1, max=64, help="Ray Train workers (learning.workers).")]
          = None,
          folds: Annotated[int | None, typer.Option(min=1, max=20, help="Walk-forward folds (learning.folds).")] = None,
          ray_address: Annotated[str | None, typer.Option(help="Connect to a Ray cluster ('auto').")] = None) -> None:
    """Learn from the store's signals and their trades which signals to trust: a Ray Tune search, each
    trial a Ray Train XGBoost run judged walk-forward; register the best as a challenger and promote it
    only when it beats the champion out of sample by learning.margin. The desk picks up a promoted
    model without a restart. On a cluster: ray job submit --working-dir . -- octet learn ..."""
    from sqlalchemy.exc import SQLAlchemyError

    from cluster.research.learn import LearnError, samples_from_store, train
    from cluster.storage.registry import ModelRegistry, RegistryError, check_name

    settings = settings_or_exit(config, runtime__ray_address=ray_address, learning__workers=workers,
                                learning__folds=folds, learning__tune_trials=trials)
    try:
        model = check_name(settings.learning.model if name is None else name)
    except RegistryError as exc:
        raise fail(str(exc)) from None
    store = store_of(config, url, must_exist=True)
    try:
        with console.status("reading samples from the store"):
            frame = samples_from_store(store.engine, run)
        console.print(f"{len(frame):,} signals with an outcome"
                      + (f" from {frame['run_id'].n_unique()} run(s)" if len(frame) else "")
                      + " (each once: a signal several runs recorded counts from the latest of them)")
        if len(frame) < settings.learning.min_samples:
            raise fail(f"{len(frame)} samples with an outcome; training needs at least "
                       f"{settings.learning.min_samples} (learning.min_samples): run a longer backtest first")
        start_ray(settings)
        registry = ModelRegistry(store.engine, settings.models_path())
        with console.status("training") as status:
            def progress(msg: str) -> None:
                console.print(escape(msg))
                status.update(escape(msg))

            result = train(frame, settings, registry, name=model, progress=progress)
    except (LearnError, RegistryError) as exc:
        raise fail(str(exc)) from None
    except OSError as exc:  # the models' directory cannot be made or written
        raise fail(f"{exc.strerror or exc}: {exc.filename or settings.models_path()}", 1) from None
    except SQLAlchemyError as exc:
        raise fail(f"the store: {str(getattr(exc, 'orig', exc)).strip().splitlines()[0]}", 1) from None
    finally:
        store.close()
    c = result.challenger
    table = Table(title=f"{c.label}: walk-forward, out of sample")
    for col in ("fold", "use", "train", "test from", "test n", "AUC", "champion AUC", "Brier", "mean R all",
                "mean R taken", "taken"):
        table.add_column(col, justify="right")
    chose, judged = set(c.metrics.get("chosen_on_folds") or []), set(c.metrics.get("judged_folds") or [])
    from trading.market import ts_to_datetime

    for f in c.folds:
        use = "judged" if f["index"] in judged else "chose" if f["index"] in chose else "-"
        table.add_row(str(f["index"]), use, f"{f['train_n']:,}", ts_to_datetime(f["test_from_ns"]).strftime("%Y-%m-%d %H:%M"),
                      f"{f['n']:,}", _f(f["auc"]), _f(f.get("champion_auc")), _f(f["brier"]), _f(f["all_mean_r"]),
                      _f(f["taken_mean_r"]), f"{f['taken_n']}/{f['all_n']}")
    console.print(table)
    console.print(f"{'[green]promoted[/green]' if result.promoted else '[yellow]not promoted[/yellow]'}: "
                  f"{escape(result.verdict)}")
    console.print(f"artefact {escape(str(c.artifact))}; {result.seconds:.1f} s")


@models_app.command("list")
def models_list(config: ConfigOpt = Path("octet.yaml"), url: UrlOpt = None,
                name: Annotated[str | None, typer.Option(help="Only this model.")] = None) -> None:
    """Every registered version: its role, when it was promoted, its out-of-sample AUC and verdict."""
    from cluster.storage.registry import ModelRegistry

    settings = settings_or_exit(config)
    store = store_of(config, url, must_exist=True)
    try:
        versions = ModelRegistry(store.engine, settings.models_path()).versions(name)
    finally:
        store.close()
    if not versions:
        console.print(f"no model named {name!r} is registered: `octet models list` shows them all" if name else
                      "no model registered yet: `octet learn` trains one", markup=False)
        return
    table = Table()
    for col in ("model", "version", "role", "samples", "mean AUC", "champion's", "code", "verdict"):
        table.add_column(col)
    for v in versions:
        mean = v.metrics.get("mean", {})
        table.add_row(v.name, str(v.version), v.role, f"{v.samples or 0:,}", _f(mean.get("auc")),
                      _f(v.metrics.get("champion_mean_auc")), v.code_version or "-", escape(v.verdict or "-"))
    console.print(table)


@models_app.command("promote")
def models_promote(name: Annotated[str, typer.Argument(help="The model.")],
                   version: Annotated[int, typer.Argument(help="The version to make champion.")],
                   config: ConfigOpt = Path("octet.yaml"), url: UrlOpt = None,
                   reason: Annotated[str, typer.Option(help="Why (kept as its verdict).")] = "promoted by hand") -> None:
    """Make a version the champion by hand (a rollback, say); the champion before it is retired. The
    desk picks it up within learning.poll_seconds."""
    from cluster.storage.registry import ModelRegistry, RegistryError

    settings = settings_or_exit(config)
    store = store_of(config, url, must_exist=True)
    try:
        info = ModelRegistry(store.engine, settings.models_path()).promote(name, version, f"by hand: {reason}")
    except RegistryError as exc:
        raise fail(str(exc)) from None
    finally:
        store.close()
    console.print(f"{escape(info.label)} is the champion")
