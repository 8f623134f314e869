"""Synthetic data: a realistic year of a large city's 12345 hotline (reference data, citizens
and enterprises, calls, tickets with lifecycle-true histories, surveys), with injected quality
defects, surges and clusters written as ground truth beside it.

- `year.Year`: the seeded generator of rows; `load.load`: bulk loading into the store;
- `truth`: the ground-truth files; `command.main_synth`: the command line's entry."""

from callcenter.synthetic.command import main_synth

__all__ = ["main_synth"]
