"""One module per family of subcommands; each defines `add(subparsers, name)`."""
