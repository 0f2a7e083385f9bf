"""One module per subcommand (layer 9): ``add_parser(sub, add_common)`` and ``run(args) -> int``,
argparse and the handler only; the work is in analysis/ and render/ (or request/ and execution/)."""
