"""The tabulator service: consume tallies, judge them, count them once, in PostgreSQL."""
