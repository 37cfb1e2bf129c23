"""A load test's database and topic, prepared by whichever Rekap `import rekap` finds: the drain's
`--baseline REF` runs it with a git revision's code first on PYTHONPATH, so that the database has that
revision's schema, loaded by its own code.

    python -m loadtests.prepare NAME [--national [--provinces N]]
"""

from __future__ import annotations

import argparse
import asyncio

from loadtests.harness import Run
from loadtests.national import national_dataset
from rekap.devstack.secrets import stack_settings
from rekap.masterdata.files import read_master_data_folder
from rekap.resources import sumsel_master_data_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name")
    parser.add_argument("--national", action="store_true")
    parser.add_argument("--provinces", type=int, default=33)
    args = parser.parse_args()
    dataset = national_dataset(args.provinces) if args.national else read_master_data_folder(sumsel_master_data_dir())
    asyncio.run(Run(stack_settings(), name=args.name).prepare(dataset))


if __name__ == "__main__":
    main()
