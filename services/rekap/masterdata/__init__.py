"""Election master data: regions, TPS, contests and choices, as CSV files and their derivation."""
