"""The ``tjar-pipelines`` command and the code location as a user meets them."""

from __future__ import annotations

import argparse
import socket

import pytest

from tjar_pipelines.cli import build_parser, main


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


def _parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """Every (sub)command parser with its command path, depth first."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, (*path, name))


def _words(text: str) -> str:
    return " ".join(text.split())


def test_every_option_of_every_command_has_help(capsys):
    commands = list(_parsers(build_parser()))
    assert {path for path, _ in commands} >= {
        (),
        ("sync",),
        ("report",),
        ("simulator",),
        ("demo",),
        ("webhooks",),
        ("webhooks", "serve"),
        ("webhooks", "register"),
        ("webhooks", "list"),
        ("webhooks", "dead-letters"),
    }
    for path, parser in commands:
        with pytest.raises(SystemExit) as exit_info:
            main([*path, "--help"])
        assert exit_info.value.code == 0
        shown = _words(capsys.readouterr().out)
        assert parser.description, path
        for action in parser._actions:
            if not action.option_strings:
                continue
            assert action.help and action.help != argparse.SUPPRESS, (path, action.dest)
            assert all(flag in shown for flag in action.option_strings), (path, action.dest)
            assert _words(action.help.split("(")[0]) in shown, (path, action.dest)
            if action.nargs != 0:  # an option with a value shows what kind of value
                assert action.metavar or action.choices, (path, action.dest)
    top = _words(build_parser().format_help())
    assert "examples:" in top and "tjar-pipelines report" in top and "--verbose" in top


def test_defaults_are_shown_once(capsys):
    with pytest.raises(SystemExit):
        main(["simulator", "--help"])
    out = _words(capsys.readouterr().out)
    assert "port to bind (0 = any free port) (default: 8000)" in out
    assert "(default: None)" not in out and "(default: [])" not in out
    with pytest.raises(SystemExit):
        main(["sync", "--help"])
    out = _words(capsys.readouterr().out)
    assert "store to sync (repeatable; default: every store)" in out
    assert "every store) (default" not in out


def _bad_registry(tmp_path, monkeypatch) -> None:
    stores = tmp_path / "stores.yaml"
    stores.write_text("stores:\n  - slug: acme\n    domain: acme.tjar.sa\n    colour: blue\n")
    monkeypatch.setenv("TJAR_STORES_FILE", str(stores))
    monkeypatch.setenv("TJAR_DATA_DIR", str(tmp_path / "data"))


@pytest.mark.parametrize(
    "argv", [["sync"], ["webhooks", "list", "--store", "acme"], ["webhooks", "serve"]]
)
def test_a_bad_registry_is_one_line_without_traceback(argv, tmp_path, monkeypatch, capsys):
    _bad_registry(tmp_path, monkeypatch)
    assert main(argv) == 2
    captured = capsys.readouterr()
    [line] = captured.err.strip().splitlines()
    assert line.startswith(f"tjar-pipelines {argv[0]}: ") and "stores[0]" in line
    assert "colour" in line and "Traceback" not in captured.err
    assert captured.out == ""


def test_verbose_adds_the_traceback_before_or_after_the_command(tmp_path, monkeypatch, capsys):
    _bad_registry(tmp_path, monkeypatch)
    for argv in (["-v", "sync"], ["sync", "--verbose"], ["webhooks", "list", "--store", "a", "-v"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("Traceback (most recent call last):"), argv
        assert "RegistryError" in err
        command = next(arg for arg in argv if not arg.startswith("-"))
        assert err.strip().splitlines()[-1].startswith(f"tjar-pipelines {command}: "), argv


def test_unknown_store_names_the_store_and_the_fix(pipeline, capsys):
    pipeline()
    assert main(["webhooks", "list", "--store", "nope"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "'nope' is not in the store registry" in line and "known stores: acme" in line


def test_a_rejected_key_is_one_line_naming_the_store_and_never_the_key(
    pipeline, monkeypatch, capsys
):
    pipeline()
    wrong = "tjar_live_0000000000wrongkey"
    monkeypatch.setenv("TJAR_ACME_API_KEY", wrong)
    assert main(["webhooks", "list", "--store", "acme"]) == 1
    captured = capsys.readouterr()
    [line] = captured.err.strip().splitlines()
    assert "[store acme]" in line and "401" in line
    assert wrong not in captured.err + captured.out
    assert main(["-v", "webhooks", "list", "--store", "acme"]) == 1
    captured = capsys.readouterr()
    assert "TjarAuthError" in captured.err and wrong not in captured.err + captured.out


def test_a_taken_port_says_to_pick_another(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["simulator", "--port", str(port)]) == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("tjar-pipelines simulator: ") and "pick another --port" in line


def test_an_unexpected_error_says_how_to_see_more(monkeypatch, capsys):
    from tjar_pipelines import sync

    def broken(args):
        raise KeyError("surprise")

    monkeypatch.setattr(sync, "run", broken)
    assert main(["sync"]) == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line == (
        "tjar-pipelines sync: unexpected KeyError: 'surprise' "
        "(run again with --verbose for the traceback)"
    )
