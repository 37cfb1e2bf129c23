#!/usr/bin/env python3
"""Writes docs/examples/, the example records of docs/contract.md, from the contract's example form:

- one form file per outcome and reason a file can show, for TPS 1671011001003 of the shipped master data
  (services/rekap/masterdata/sumsel-2024: 300 men and 273 women on its DPT) and the governor race pkwkp-16;
- example-terminal.key and example-terminal.pub, the example terminal's Ed25519 key pair. The private key
  is PUBLIC ON PURPOSE, for these examples only: it derives from a phrase written below, so anyone can
  make it again. Never register it for a real terminal;
- terminals.csv, the terminals the examples name, with that public key (for `rekap terminal register
  --from`): kpps-1671011001003, and kpps-revoked (to be revoked after registering);
- examples.json: for each record, the key to send it with, the terminal it names, the example it follows,
  its `signature` header (the example key's, over the file's exact bytes) and the outcome and reason it
  gets.

Run it after changing anything here (the files come out byte for byte the same each time):

    PYTHONPATH=services .venv/bin/python tools/make_examples.py [--out DIR]
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import json
from pathlib import Path
from typing import Any

from rekap.domain.signing import SigningKey, private_key_pem, public_key_pem

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"
KEY = SigningKey.derived(b"rekap docs/examples: public on purpose, never for a real terminal", "example-terminal")
WARNING = "EXAMPLE KEY, PUBLIC ON PURPOSE: it signs the records of docs/examples only; never use it for a terminal.\n"
TPS = "1671011001003"
TERMINAL = f"kpps-{TPS}"

# The contract's example form, laid out as docs/contract.md shows it.
VALID = f"""{{
  "schema": "tally/v1",
  "submission_id": "6f1c2d0e-3b7a-4f0e-9a55-2f3c8d9e1a77",
  "terminal_id": "{TERMINAL}",
  "tps_id": "{TPS}",
  "contest_id": "pkwkp-16",
  "revision": 1,
  "submitted_at": "2024-11-27T14:05:31+07:00",
  "voters": {{
    "registered": {{"male": 300, "female": 273}},
    "voted": {{
      "dpt":      {{"male": 170, "female": 181}},
      "moved_in": {{"male": 2,   "female": 1}},
      "added":    {{"male": 3,   "female": 2}}
    }},
    "disabled_voted": {{"male": 1, "female": 0}}
  }},
  "ballots": {{"received": 588, "used": 359, "damaged": 2, "unused": 227}},
  "votes": {{"1": 181, "2": 92, "3": 61}},
  "valid": 334,
  "invalid": 25
}}
"""
DELETE = object()  # a field the example leaves out
# The photos of the form's sheets (tally v1's optional `photos`): the digests and sizes of stand-in bytes, as the
# photos themselves travel apart from the form.
PHOTOS = [
    {"sha256": hashlib.sha256(f"C.Hasil {TPS} pkwkp-16, sheet {sheet}".encode()).hexdigest(), "bytes": size,
     "media_type": "image/jpeg", "sheet": sheet}
    for sheet, size in ((1, 734_512), (2, 698_007))
]  # fmt: skip


def changed(**fields: Any) -> bytes:
    """The example form with some fields (dotted paths; "__" for a dot) set or left out, one per line."""
    form = copy.deepcopy(json.loads(VALID))
    for path, value in fields.items():
        *parents, last = path.split("__")
        target = form
        for part in parents:
            target = target[part]
        if value is DELETE:
            del target[last]
        else:
            target[last] = value
    return (json.dumps(form, indent=2) + "\n").encode()


# file, the record's key, the terminal it names, the example it follows, outcome, reason, note, the bytes
RECORDS: list[tuple[str, str, str, str | None, str, str | None, str, bytes]] = [
    ("valid.json", TPS, TERMINAL, None, "accepted", None, "the contract's example", VALID.encode()),
    ("duplicate.json", TPS, TERMINAL, "valid.json", "duplicate", None, "the same form again", VALID.encode()),
    ("correction.json", TPS, TERMINAL, "valid.json", "accepted", None, "revision 2: one vote moved",
     changed(revision=2, votes__1=180, votes__2=93)),
    ("stale.json", TPS, TERMINAL, "correction.json", "stale", None, "revision 1 after revision 2", VALID.encode()),
    ("revision_conflict.json", TPS, TERMINAL, "valid.json", "rejected", "revision_conflict",
     "revision 1 again, other numbers", changed(votes__1=180, votes__2=93)),
    ("malformed_json.json", TPS, TERMINAL, None, "rejected", "malformed_json", "",
     b'{"schema": "tally/v1", "votes": {"1": 181,\n'),
    ("schema_violation.json", TPS, TERMINAL, None, "rejected", "schema_violation", "a count as a string",
     changed(valid="334")),
    ("duplicate_key.json", TPS, TERMINAL, None, "rejected", "duplicate_key", "",
     VALID.replace('  "valid": 334,\n', '  "valid": 334,\n  "valid": 999,\n').encode()),
    ("key_mismatch.json", "1671011001004", TERMINAL, None, "rejected", "key_mismatch", "sent with another TPS's key",
     VALID.encode()),
    ("unknown_tps.json", "1671011001999", TERMINAL, None, "rejected", "unknown_tps", "",
     changed(tps_id="1671011001999")),
    ("unknown_contest.json", TPS, TERMINAL, None, "rejected", "unknown_contest", "", changed(contest_id="pkwkk-1699")),
    ("contest_not_at_tps.json", TPS, TERMINAL, None, "rejected", "contest_not_at_tps", "",
     changed(contest_id="pkwkk-1601")),
    ("bad_choices.json", TPS, TERMINAL, None, "rejected", "bad_choices", "", changed(votes__3=DELETE, votes__4=61)),
    ("unknown_terminal.json", TPS, "kpps-unknown", None, "rejected", "unknown_terminal", "",
     changed(terminal_id="kpps-unknown")),
    ("terminal_not_authorized.json", TPS, "kpps-revoked", None, "rejected", "terminal_not_authorized",
     "from a revoked terminal", changed(terminal_id="kpps-revoked")),
    ("bad_signature.json", TPS, TERMINAL, None, "rejected", "bad_signature",
     "another submission_id, sent with valid.json's signature",
     changed(submission_id="0d7c1e52-8a3f-4b6e-9c21-5e4f3a2b1c0d")),
    ("votes_sum_ne_valid.json", TPS, TERMINAL, None, "quarantined", "votes_sum_ne_valid", "", changed(votes__3=60)),
    ("valid_invalid_ne_used.json", TPS, TERMINAL, None, "quarantined", "valid_invalid_ne_used", "",
     changed(invalid=26)),
    ("used_ne_voted.json", TPS, TERMINAL, None, "quarantined", "used_ne_voted", "",
     changed(voters__voted__added__male=4)),
    ("ballots_unbalanced.json", TPS, TERMINAL, None, "quarantined", "ballots_unbalanced", "",
     changed(ballots__unused=226)),
    ("voted_exceeds_registered.json", TPS, TERMINAL, None, "quarantined", "voted_exceeds_registered",
     "301 men of the DPT voted, 300 are registered (the other numbers add up)",
     changed(voters__voted__dpt__male=301, ballots__used=490, ballots__unused=96, votes__1=312, valid=465)),
    ("registered_exceeds_capacity.json", TPS, TERMINAL, None, "quarantined", "registered_exceeds_capacity",
     "400 + 273 registered", changed(voters__registered__male=400)),
    ("registered_ne_master_data.json", TPS, TERMINAL, None, "quarantined", "registered_ne_master_data",
     "300 / 274 registered, the master data says 300 / 273", changed(voters__registered__female=274)),
    ("submitted_in_future.json", TPS, TERMINAL, None, "quarantined", "submitted_in_future", "",
     changed(submitted_at="2099-11-27T14:05:31+07:00")),
    ("valid_with_photos.json", TPS, TERMINAL, None, "accepted", None, "the contract's example with its sheets' photos",
     changed(submission_id="a3e5b7c9-1d2f-4a6b-8c0e-2f4a6b8c0d1e", photos=PHOTOS)),
    ("revision_jump.json", TPS, TERMINAL, None, "quarantined", "revision_jump",
     "no revision before it: 150 is more than 100 above 0", changed(revision=150)),
]  # fmt: skip
# Signed over other bytes than its own: the signature of the form it is a copy of.
SIGNED_AS = {"bad_signature.json": "valid.json"}


def write_examples(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    values = {name: value for name, *_, value in RECORDS}
    index = []
    for name, key, signer, after, outcome, reason, note, value in RECORDS:
        (folder / name).write_bytes(value)
        signature = KEY.sign(values[SIGNED_AS.get(name, name)]).decode()
        index.append({"file": name, "key": key, "signer": signer, "after": after, "signature": signature,
                      "outcome": outcome, "reason": reason, "note": note})  # fmt: skip
    (folder / "examples.json").write_text(json.dumps(index, indent=2) + "\n")
    (folder / "example-terminal.key").write_text(WARNING + private_key_pem(KEY))
    (folder / "example-terminal.pub").write_text(WARNING + public_key_pem(KEY.public_key))
    public = base64.b64encode(KEY.public_key).decode()
    (folder / "terminals.csv").write_text(
        "terminal_id,scope,public_key\n" + "".join(f"{t},tps:{TPS},{public}\n" for t in (TERMINAL, "kpps-revoked"))
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=EXAMPLES, help=f"default: {EXAMPLES}")
    write_examples(parser.parse_args().out)


if __name__ == "__main__":
    main()
