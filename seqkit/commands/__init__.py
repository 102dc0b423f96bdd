"""The core's commands, one small module each; the table lets the CLI import them only when run."""

# name -> "module:attribute"; each module imports only click and light seqkit modules at top level.
CORE_COMMANDS = {
    "analogy": "seqkit.commands.vectors:analogy",
    "convert": "seqkit.commands.vectors:convert",
    "demo": "seqkit.commands.demo:demo",
    "eval": "seqkit.commands.eval:eval_group",
    "generate": "seqkit.commands.generate:generate",
    "outlier": "seqkit.commands.pairs:outlier",
    "perplexity": "seqkit.commands.perplexity:perplexity",
    "plugins": "seqkit.commands.plugins:plugins_command",
    "predict": "seqkit.commands.classification:predict",
    "print-vectors": "seqkit.commands.vectors:print_vectors",
    "sentence-vectors": "seqkit.commands.classification:sentence_vectors",
    "similar": "seqkit.commands.vectors:similar",
    "similarity": "seqkit.commands.pairs:similarity",
    "test": "seqkit.commands.classification:test_command",
    "vocab": "seqkit.commands.vocab:vocab",
}
