"""docs/manage.md shows the catalogue exactly as the data has it."""

from __future__ import annotations

from pathlib import Path

from lnhive.manage.catalogue_doc import BEGIN, END, catalogue_markdown
from lnhive.manage.rules import REGISTRY
from lnhive.manage.schemas import CATALOGUE

DOC = Path(__file__).resolve().parents[2] / "docs" / "manage.md"


def test_catalogue_section_matches_the_data() -> None:
    text = DOC.read_text()
    start, end = text.index(BEGIN), text.index(END) + len(END)
    assert text[start:end] == catalogue_markdown(CATALOGUE), (
        "regenerate the catalogue section of docs/manage.md with "
        "lnhive.manage.catalogue_doc.catalogue_markdown(CATALOGUE)"
    )


def test_generated_table_has_every_action_once() -> None:
    table = catalogue_markdown(CATALOGUE)
    for spec in CATALOGUE.all():
        assert f"#### `{spec.schema_id}`" in table
    rows = [line for line in table.splitlines() if line.startswith("|") and "---" not in line]
    assert len(rows) == len(CATALOGUE.all()) + len(CATALOGUE.schema_ids)  # + header rows


def test_every_rule_has_a_line_of_docs() -> None:
    text = DOC.read_text()
    for name in REGISTRY:
        assert f"|`{name}`|" in text, name
