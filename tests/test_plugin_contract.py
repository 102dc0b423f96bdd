"""What the core does when a plugin breaks its contract: a sniffer that raises, a loader that fails, a
model whose answers have the wrong shape or values, two plugins with one name. Each is one line naming
the plugin's format (or a warning), never an internal error, a blocked first-party format, or numbers
that are silently wrong."""

from __future__ import annotations

import importlib
import json

import pytest

from test_cli_plugins import install_fake_dists

TEXT = "a b c\nb c\n"


@pytest.fixture
def faulty(tmp_path, monkeypatch):
    """The faulty plugin installed beside the first-party ones; model files of each MODE under tmp_path."""
    site = install_fake_dists(tmp_path / "site", "faulty")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "text.txt").write_text(TEXT)
    (tmp_path / "labelled.txt").write_text("__label__a x y\n__label__b y\n__label__a z\n")
    return tmp_path


def model(kind: str, mode: str) -> str:
    path = f"{kind}-{mode}.model"
    with open(path, "w") as out:
        out.write(f"{kind} {mode}\n")
    return path


def test_a_sniffer_that_raises_is_skipped_with_one_warning(faulty, cli_run):
    arpa = faulty / "lm.arpa"
    assert cli_run("ngram", "text.txt", "-o", arpa, "--order", "2", "--discount-fallback", "-q").exit_code == 0
    result = cli_run("perplexity", "-m", arpa, "text.txt")
    assert result.exit_code == 0 and result.stdout.startswith("ppl\t")  # the ARPA format still reads it
    warnings = [line for line in result.stderr.splitlines() if "sniff raised" in line]
    assert warnings == ["seqkit: warning: format 'exploding' of plugin 'faulty': sniff raised ValueError: "
                        f"sniff exploded on {arpa}; the format is skipped"]


def test_a_file_no_format_reads_names_the_sniffer_that_raised(faulty, cli_run):
    result = cli_run("perplexity", "-m", "text.txt", "text.txt")  # the error says it, warning or no warning
    error = result.stderr.splitlines()[-1]
    assert result.exit_code == 1 and "not a language model any installed plugin can read" in error
    assert "exploding (its sniff raised ValueError: sniff exploded on text.txt)" in error


def test_a_loader_that_fails_is_named(faulty, cli_run):
    result = cli_run("perplexity", "-m", model("faulty-lm", "load-fails"), "text.txt")
    assert result.exit_code == 1
    assert result.stderr.endswith("faulty-lm-load-fails.model: format 'faulty-lm' of plugin 'faulty' failed to load "
                                  "it: KeyError: 'a key the plugin forgot'\n")
    assert "internal error" not in result.stderr


@pytest.mark.parametrize("mode,says", [
    ("no-eos", "scored a sentence of 3 words with (3,) log-probabilities"),
    ("positive", "gave a log-probability of 0.5 (above 0, no probability)"),
])
@pytest.mark.parametrize("table", [[], ["--per-sentence"], ["--per-word"]])
def test_a_language_model_answering_wrongly_is_named(faulty, cli_run, mode, says, table):
    result = cli_run("perplexity", "-m", model("faulty-lm", mode), "text.txt", *table)
    assert result.exit_code == 1 and says in result.stderr, result.stderr
    assert "format 'faulty-lm' of plugin 'faulty'" in result.stderr
    assert [line for line in result.stdout.splitlines() if not line.startswith("sentence\t")] == []  # no figures


def test_a_well_behaved_plugin_model_is_scored(faulty, cli_run):
    result = cli_run("perplexity", "-m", model("faulty-lm", "ok"), "text.txt", "--json")
    data = json.loads(result.stdout)
    assert result.exit_code == 0 and data["tokens"] == 7 and data["ppl"] == pytest.approx(4.0)


def test_generate_keeps_to_max_tokens_and_names_a_model_sampling_a_string(faulty, cli_run):
    result = cli_run("generate", "-m", model("faulty-lm", "long"), "--max-tokens", "3")
    assert result.exit_code == 0 and result.stdout == "w w w\n"
    result = cli_run("generate", "-m", model("faulty-lm", "string"))
    assert result.exit_code == 1 and "format 'faulty-lm' of plugin 'faulty': sampled 'a b c', not a list of words" \
        in result.stderr


@pytest.mark.parametrize("command", ["predict", "test"])
def test_predict_lines_answering_too_few_lines_is_an_error(faulty, cli_run, command):
    result = cli_run(command, "-m", model("faulty-clf", "short"), "labelled.txt")
    assert result.exit_code == 1
    assert "format 'faulty-clf' of plugin 'faulty': predict_lines returned 2 answers for 3 lines" in result.stderr


@pytest.mark.parametrize("command", ["predict", "test"])
def test_an_unknown_predicted_label_is_an_error(faulty, cli_run, command):
    result = cli_run(command, "-m", model("faulty-clf", "unknown"), "labelled.txt")
    assert result.exit_code == 1 and "predicted ('__label__other', 0.9), not a (label, probability) pair" \
        in result.stderr, result.stderr


def test_numpy_probabilities_and_extra_labels_are_taken_as_asked(faulty, cli_run):
    result = cli_run("predict", "-m", model("faulty-clf", "float32"), "labelled.txt", "--json")
    assert result.exit_code == 0
    assert [json.loads(line) for line in result.stdout.splitlines()] == [{"labels": ["__label__a"], "probs": [0.75]}] * 3
    result = cli_run("test", "-m", model("faulty-clf", "ignores-k"), "labelled.txt", "-k", "1", "--json")
    assert json.loads(result.stdout)["P@1"] == pytest.approx(2 / 3)  # one prediction a line, not two


def test_two_plugins_of_one_name_are_reported_not_silently_dropped(tmp_path, monkeypatch, capsys):
    from importlib import metadata

    from seqkit.plugins import discover

    site = install_fake_dists(tmp_path / "site", "hello")
    other = tmp_path / "other" / "seqkit_hello2-1.0.dist-info"
    other.mkdir(parents=True)
    (other / "METADATA").write_text("Metadata-Version: 2.1\nName: seqkit-hello2\nVersion: 1.0\n")
    (other / "entry_points.txt").write_text("[seqkit.plugins]\nhello = seqkit_faulty\n")
    install_fake_dists(tmp_path / "other", "faulty")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.syspath_prepend(str(tmp_path / "other"))
    importlib.invalidate_caches()
    entries = [e for e in metadata.entry_points(group="seqkit.plugins") if e.name == "hello"]
    assert len(entries) == 2
    registry = discover(entries)
    err = capsys.readouterr().err
    assert "seqkit: plugin 'hello' was not loaded:" in err and "has the name of" in err
    assert len(registry.plugins) == 2  # both listed by `seqkit plugins`, the one not loaded with its reason
    assert [info.error is not None for info in registry.plugins] == [False, True]


def test_options_a_model_type_lacks_are_usage_errors(faulty, cli_run):
    lm = model("faulty-lm", "ok")
    for option, says in ((["--beam", "3"], "does not support --beam"), (["--no-unk"], "does not support --no-unk")):
        result = cli_run("generate", "-m", lm, *option)
        assert result.exit_code == 2 and says in result.stderr, result.stderr
