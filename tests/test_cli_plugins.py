"""The root CLI and the plugin system: discovery, failures, clashes, hygiene, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from seqkit.plugins import discover

PLUGIN_DIR = Path(__file__).parent / "fixtures" / "plugins"


def install_fake_dists(target: Path, *names: str) -> Path:
    """Make `target` look like site-packages holding third-party seqkit plugins (real dist-info)."""
    for name in names:
        dist = target / f"seqkit_{name}-9.9.9.dist-info"
        dist.mkdir(parents=True)
        (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: seqkit-{name}\nVersion: 9.9.9\n")
        (dist / "entry_points.txt").write_text(f"[seqkit.plugins]\n{name} = seqkit_{name}\n")
        (target / f"seqkit_{name}.py").write_text((PLUGIN_DIR / f"seqkit_{name}.py").read_text())
    return target


@pytest.fixture
def third_party(tmp_path, monkeypatch):
    site = install_fake_dists(tmp_path / "site", "hello", "broken")
    monkeypatch.syspath_prepend(str(site))
    import importlib

    importlib.invalidate_caches()
    return site


def test_third_party_plugin_command_appears_and_runs(third_party, cli_run):
    result = cli_run("--help")
    assert result.exit_code == 0
    assert "hello" in result.stdout and "vocab" in result.stdout
    assert "plugin 'broken' failed to load: RuntimeError: this plugin is broken on purpose" in result.stderr
    assert cli_run("hello", "tester").stdout == "hello tester\n"


def test_plugins_lists_name_version_distribution_commands(third_party, cli_run):
    lines = cli_run("plugins").stdout.splitlines()
    hello = next(line for line in lines if line.startswith("hello\t"))
    assert hello.split("\t")[:4] == ["hello", "9.9.9", "seqkit-hello", "hello"]
    data = json.loads(cli_run("plugins", "--json").stdout)
    by_name = {p["name"]: p for p in data}
    assert by_name["hello"]["commands"] == ["hello"] and by_name["hello"]["language_models"] == ["unigram"]
    assert "broken on purpose" in by_name["broken"]["error"]


def test_load_plugins_env_limits_and_empty_loads_none(third_party, cli_run, monkeypatch):
    monkeypatch.setenv("SEQKIT_LOAD_PLUGINS", "hello")
    result = cli_run("plugins", "--json")
    assert [p["name"] for p in json.loads(result.stdout)] == ["hello"]
    assert result.stderr == ""  # the broken plugin was not even tried
    from seqkit.plugins import reset_registry

    reset_registry()
    monkeypatch.setenv("SEQKIT_LOAD_PLUGINS", "")
    assert json.loads(cli_run("plugins", "--json").stdout) == []
    reset_registry()
    assert "hello" not in cli_run("--help").stdout


def test_command_clash_is_an_error_naming_both_plugins(tmp_path, monkeypatch, capsys):
    site = install_fake_dists(tmp_path / "site", "hello", "clash")
    monkeypatch.syspath_prepend(str(site))
    from importlib import metadata

    entries = [e for e in metadata.entry_points(group="seqkit.plugins") if e.name in ("hello", "clash")]
    registry = discover(entries)
    err = capsys.readouterr().err
    assert "command 'hello' of plugin 'hello' clashes with the one from plugin 'clash'" in err
    assert registry.command_owner["hello"] == "clash"  # loaded first (alphabetical); the loser is skipped
    assert next(p for p in registry.plugins if p.name == "hello").error


def test_plugin_cannot_shadow_a_core_command(tmp_path, capsys):
    import click

    class Entry:
        name, dist = "evil", None

        def load(self):
            class Plugin:
                name, version = "evil", "1"

                @staticmethod
                def register(registry):
                    registry.add_command(click.Command("vocab"))
            return Plugin

    registry = discover([Entry()], reserved=["vocab"])
    assert "clashes with the one from seqkit (core)" in capsys.readouterr().err
    assert "vocab" not in registry.commands


def test_first_party_plugins_are_entry_points():
    from importlib import metadata

    names = {e.name: e.value for e in metadata.entry_points(group="seqkit.plugins")}
    assert names["word2vec"] == "seqkit_word2vec.plugin"
    assert names["ngram"] == "seqkit_ngram.plugin" and names["rnnlm"] == "seqkit_rnnlm.plugin"


def test_importing_the_cli_and_listing_commands_loads_no_kernel():
    code = ("import sys, seqkit.cli\n"
            "from click.testing import CliRunner\n"
            "r = CliRunner().invoke(seqkit.cli.cli, ['--help'])\n"
            "assert r.exit_code == 0, r.output\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('numba', 'llvmlite', 'scipy')"
            " or m.endswith('.kernels')]\n"
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_version_and_python_dash_m(seqkit_proc):
    from seqkit import __version__

    proc = seqkit_proc("--version")
    assert proc.returncode == 0 and proc.stdout.decode().strip() == f"seqkit, version {__version__}"


def test_console_script_installed():
    script = Path(sys.executable).parent / "seqkit"
    if not script.exists():
        pytest.skip("console script not installed in this environment")
    proc = subprocess.run([str(script), "--help"], capture_output=True, timeout=120)
    assert proc.returncode == 0 and b"Commands:" in proc.stdout


def test_broken_plugin_does_not_break_help_in_a_subprocess(tmp_path, seqkit_proc):
    site = install_fake_dists(tmp_path / "site", "broken", "hello")
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    proc = seqkit_proc("--help", env=env)
    assert proc.returncode == 0
    assert b"hello" in proc.stdout
    assert b"plugin 'broken' failed to load" in proc.stderr
    assert seqkit_proc("hello", env=env).stdout == b"hello world\n"


def test_quiet_silences_plugin_warnings_but_a_missing_command_names_them(tmp_path, seqkit_proc):
    site = install_fake_dists(tmp_path / "site", "broken")
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    corpus = tmp_path / "c.txt"
    corpus.write_text("b a c\na b\nc a b\n" * 5)
    command = ("ngram", str(corpus), "-o", "-", "--order", "2", "--discount-fallback")  # a plugin's command
    loud = seqkit_proc(*command, env=env)
    assert loud.returncode == 0 and b"plugin 'broken' failed to load" in loud.stderr
    quiet = seqkit_proc(*command, "-q", env=env)
    assert quiet.returncode == 0 and quiet.stderr == b"" and quiet.stdout == loud.stdout
    missing = seqkit_proc("brokn", "-q", env=env)
    assert missing.returncode == 2 and b"No such command 'brokn'" in missing.stderr
    assert b"Plugins that did not load: broken (RuntimeError: this plugin is broken on purpose)" in missing.stderr
    model = seqkit_proc("perplexity", "-m", str(corpus), str(corpus), "-q", env=env)  # no format reads it
    assert model.returncode == 1 and model.stderr.count(b"\n") == 1 and b"broken (RuntimeError" in model.stderr
    typo = seqkit_proc("ngram", "-q", env={**env, "SEQKIT_LOAD_PLUGINS": "ngramm"})
    assert typo.returncode == 2 and b"No such command 'ngram'" in typo.stderr
    assert b"ngramm (named by $SEQKIT_LOAD_PLUGINS, which no installed plugin's entry point is called)" in typo.stderr


def test_unknown_command_is_a_usage_error(cli_run):
    result = cli_run("no-such-command")
    assert result.exit_code == 2 and "No such command" in result.stderr


# --- `seqkit vocab` through the CLI ------------------------------------------------------------

def test_vocab_command_to_stdout_and_file(tmp_path, cli_run):
    corpus = tmp_path / "c.txt"
    corpus.write_text("b a c\nc a d\nd a\n")
    result = cli_run("vocab", corpus)
    assert result.exit_code == 0
    assert result.stdout == "a 3\nc 2\nd 2\nb 1\n"
    assert "vocab: 8 tokens in 3 lines" in result.stderr
    out = tmp_path / "v.txt"
    result = cli_run("vocab", corpus, "--min-count", "2", "-o", out, "--quiet")
    assert result.exit_code == 0 and result.stdout == "" and result.stderr == ""
    assert out.read_text() == "a 3\nc 2\nd 2\n"


def test_vocab_from_stdin_in_a_subprocess(seqkit_proc):
    proc = seqkit_proc("vocab", "-", input=b"x y x\n")
    assert proc.returncode == 0 and proc.stdout == b"x 2\ny 1\n"


def test_vocab_errors_are_one_clean_line(tmp_path, seqkit_proc):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok\nnot \xff ok\n")
    proc = seqkit_proc("vocab", bad)
    assert proc.returncode == 1
    lines = proc.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"seqkit: error: {bad}:2: invalid UTF-8")
    proc = seqkit_proc("vocab", tmp_path / "missing.txt")
    assert proc.returncode == 1 and b"no such file" in proc.stderr and b"Traceback" not in proc.stderr
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    proc = seqkit_proc("vocab", empty)
    assert proc.returncode == 1 and b"empty" in proc.stderr


def test_vocab_keeps_existing_output_when_it_fails(tmp_path, seqkit_proc):
    out = tmp_path / "v.txt"
    out.write_text("precious\n")
    proc = seqkit_proc("vocab", tmp_path / "missing.txt", "-o", out)
    assert proc.returncode == 1 and out.read_text() == "precious\n"
    assert [p.name for p in tmp_path.iterdir()] == ["v.txt"]  # no temp file left behind


def test_usage_errors_exit_2(tmp_path, cli_run):
    corpus = tmp_path / "c.txt"
    corpus.write_text("a\n")
    assert cli_run("vocab", corpus, "--min-count", "0").exit_code == 2
    assert cli_run("vocab", corpus, "--errors", "loose").exit_code == 2


def test_stdin_terminal_is_a_usage_error(tmp_path):
    # A pseudo-terminal on stdin: `seqkit vocab -` must refuse instead of waiting forever.
    import pty

    leader, follower = pty.openpty()
    try:
        proc = subprocess.run([sys.executable, "-m", "seqkit", "vocab", "-"], stdin=follower,
                              capture_output=True, timeout=60)
    finally:
        os.close(follower)
        os.close(leader)
    assert proc.returncode == 2 and b"stdin is a terminal" in proc.stderr


def test_broken_pipe_exits_quietly(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text(" ".join(f"w{i}" for i in range(200_000)) + "\n")
    pipeline = f"{sys.executable} -m seqkit vocab {corpus} | head -1"
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", pipeline], capture_output=True, timeout=120)
    assert proc.stdout == b"w0 1\n"
    assert proc.stderr.replace(b"vocab: ", b"").count(b"\n") <= 1  # at most the summary line
    assert b"Traceback" not in proc.stderr and b"Broken pipe" not in proc.stderr
    assert proc.returncode == 0


def test_shell_completion_is_served_without_kernels(seqkit_proc):
    env = {"_SEQKIT_COMPLETE": "bash_complete", "COMP_WORDS": "seqkit voc", "COMP_CWORD": "1"}
    proc = seqkit_proc(env=env)
    assert proc.returncode == 0
    assert "plain,vocab" in proc.stdout.decode().splitlines()


def test_load_plugins_env_naming_no_plugin_is_warned(cli_run, monkeypatch):
    monkeypatch.setenv("SEQKIT_LOAD_PLUGINS", "ngram,ngarm")
    result = cli_run("plugins")
    assert result.exit_code == 0 and [line.split("\t")[0] for line in result.stdout.splitlines()] == ["ngram"]
    assert "$SEQKIT_LOAD_PLUGINS names 'ngarm', which no installed plugin's entry point is called" in result.stderr
