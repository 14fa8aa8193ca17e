"""Documentation generated from code stays equal to the code."""

from pathlib import Path

from pf.metrics_schema import describe

ROOT = Path(__file__).resolve().parents[1]


def test_metrics_doc_lists_every_field_of_the_schema():
    doc = (ROOT / "docs" / "METRICS.md").read_text()
    assert describe().strip() in doc, "docs/METRICS.md is stale: regenerate its table from describe()"


def test_readme_opens_with_the_two_setup_commands():
    readme = (ROOT / "README.md").read_text()
    setup = readme.split("## Set-up", 1)[1][:600]
    assert "make reports" in setup and "make test" in setup
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
