"""The ``tjar-pipelines`` command and the code location as a user meets them."""

from __future__ import annotations

import pytest

from tjar_pipelines.cli import main


def test_demo_syncs_every_demo_store(capsys, tmp_path):
    args = ["demo", "--stores", "2", "--orders", "150", "--data-dir", str(tmp_path), "--port", "0"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "3 of 3 runs succeeded" in out  # both stores share each run
    assert "Every order of the simulator is in DuckDB" in out
    assert (tmp_path / "tjar.duckdb").exists() and (tmp_path / "stores.yaml").exists()


def test_simulator_rejects_bad_settings(capsys):
    assert main(["simulator", "--port", "0", "--timezone", "Mars/Olympus"]) == 2
    assert "Mars/Olympus" in capsys.readouterr().err


def test_unknown_command_is_a_usage_error():
    with pytest.raises(SystemExit) as exit_info:
        main(["frobnicate"])
    assert exit_info.value.code == 2
