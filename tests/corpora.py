"""Where the shared corpora of real command output are (read at test time, never copied)."""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CORPORA = Path(os.environ.get("MAST_CORPORA", REPO.parent / "shared" / "corpora"))
