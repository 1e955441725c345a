"""The ``tjar-pipelines`` command and the code location as a user meets them."""

from __future__ import annotations

import pytest

from tjar_pipelines.cli import main


def test_demo_syncs_every_demo_store(capsys):
    assert main(["demo", "--stores", "2", "--orders", "150"]) == 0
    out = capsys.readouterr().out
    assert "demo-1" in out and "demo-2" in out
    assert "Synced 300 orders of 2 stores" in out


def test_simulator_rejects_bad_settings(capsys):
    assert main(["simulator", "--port", "0", "--timezone", "Mars/Olympus"]) == 2
    assert "Mars/Olympus" in capsys.readouterr().err


def test_unknown_command_is_a_usage_error():
    with pytest.raises(SystemExit) as exit_info:
        main(["frobnicate"])
    assert exit_info.value.code == 2


