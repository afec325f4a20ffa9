"""docs/archon.md documents every RPC method and option of the plugin."""

from __future__ import annotations

from pathlib import Path

import lnhive.plugins.archon as archon_plugin

DOC = Path(__file__).resolve().parents[2] / "docs" / "archon.md"


def test_every_method_and_option_is_documented() -> None:
    text = DOC.read_text()
    methods = [m for m in archon_plugin.plugin.methods if m.startswith("hive-")]
    assert {"hive-archon-provision", "hive-archon-upgrade", "hive-poll-create", "hive-vote"} <= set(
        methods
    )
    for name in methods:
        assert f"`{name}" in text, name
    for name in archon_plugin.plugin.options:
        if name.startswith("hive-archon-"):
            assert f"`{name}`" in text, name
