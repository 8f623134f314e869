"""Outbound calling: queued callbacks (keep your place) and satisfaction surveys (回访)."""
