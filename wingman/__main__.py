"""`python -m wingman …`: what `accelerate launch -m wingman train …` and `torchrun` run."""

import sys

from wingman.cli import main

sys.exit(main())
