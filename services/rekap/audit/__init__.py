"""The audit bundle: every deciding form's signed bytes, the terminals, the master data and the totals,
written from one snapshot (export.py), and recounted from the bundle alone (verify.py). Its format is
documented in docs/audit-bundle.md, for observers who write their own verifier."""
