"""Data applications over the ticket store (GB/T 44192 7.1.1, 7.2.2-7.2.4; GB/T 44190 7.1):
service quality, hot spots, the department side and its scorecards, integration evaluation.

Every figure is an SQL aggregate (GROUP BY, window functions) over the tickets received
(`tickets.created_at`) in a period [start, end) of epoch seconds."""
