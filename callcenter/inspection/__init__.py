"""智能质检 (GB/T 44192 7.1.3.2): every transcribed call scored by configurable rules, with
the transcript spans that are the evidence, and append-only reviews, disputes and overrides.

`rules` holds the pure checks over a transcript, `config` reads config/inspection.toml,
`score` turns findings into a score and says which review step may follow which, `store`
reads transcripts and writes scores, `worker` drains the backlog of transcribed calls.
"""
