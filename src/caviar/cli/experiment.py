"""``caviar experiment NAME``: rerun one of the notes' claims and print its verdict.

Standard output gets the verdict line (``NAME: holds (…)`` or ``NAME: does not hold here
(…)``), computed from the experiment's numbers; standard error says where the JSON and PNG
went and how long the experiment took.
"""

from __future__ import annotations

import click

from caviar.errors import InvalidArgument


@click.command()
@click.argument("name", metavar="NAME", required=False)
@click.option("--list", "list_", is_flag=True, help="Name every experiment and its claim.")
@click.option(
    "--out",
    metavar="DIR",
    default="caviar-experiments",
    show_default=True,
    help="Folder for NAME.png and NAME.json.",
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--quick", is_flag=True, help="A smaller run of a few seconds (what the tests run).")
def experiment(name, list_, out, seed, quick):
    """Run experiment NAME: its plot, a JSON of its numbers and a one-line verdict.

    Each runs in under a minute; --list names them.
    """
    from caviar import experiments

    if list_:
        width = max(map(len, experiments.names())) + 1
        for n in experiments.names():
            click.echo(f"{n:{width}} {experiments.claim(n)}")
        return
    if name is None:
        raise InvalidArgument(
            "Name an experiment (one of " + ", ".join(experiments.names()) + "), or use --list."
        )
    outcome = experiments.run_experiment(name, out, seed=seed, quick=quick)
    click.echo(outcome.verdict)
    click.echo(
        f"wrote {outcome.png_path} and {outcome.json_path} ({outcome.seconds:.1f} s)", err=True
    )
