"""The pure domain: regions, contests, terminals, the tally form and its rules. No I/O, no asyncio."""
