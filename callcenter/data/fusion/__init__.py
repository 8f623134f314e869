"""Data fusion (GB/T 44192 6.3): citizen and enterprise profiles across tickets, calls,
callbacks and 回访, and the topic libraries tickets are filed under.

`match` is the pure matching; `build` rebuilds the profiles and topic libraries from the
store (`main_fuse` for the command line); `topics` and `browse` answer queries.
"""
