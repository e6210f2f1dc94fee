"""Live push: what changed (never who), published after commit and streamed to the pages that may see it."""
