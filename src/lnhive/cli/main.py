"""The `lnhive` command: the demo, the stand-in, and (later) the advisor client."""

from __future__ import annotations

import typer

from lnhive.cli import advisor, demo, sim

app = typer.Typer(
    name="lnhive",
    help="Lightning Hive: coordinated, auditable Core Lightning routing nodes.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Lightning Hive: coordinated, auditable Core Lightning routing nodes."""


app.command("demo", help="Run the demo: a small simulated network with plugins, then a summary.")(
    demo.run
)
app.add_typer(sim.app, name="sim")
app.add_typer(advisor.app, name="advisor")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
