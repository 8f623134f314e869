"""Call recordings: indexing after hangup, retention, audited access."""
