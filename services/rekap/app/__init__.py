"""The use cases: what a person does with Rekap (look up a TPS, review held forms, ...), each a function
taking typed inputs and the ports it needs, returning typed results. No SQL, no driver, no printing: the
adapters implement the ports (rekap.adapters), the command line parses, calls one use case and prints
(rekap.cli), and rekap.wiring puts the two together."""
