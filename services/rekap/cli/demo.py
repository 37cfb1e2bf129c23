"""`rekap demo`: the README's run command. From nothing to a counted election night: a fresh local
stack, the schema, the master data, the tabulator, a simulated evening, the results and the check."""

from __future__ import annotations

import argparse
import shutil

from rekap.app.night import register_simulated_terminals
from rekap.cli import audit, db, masterdata, simulate, stack
from rekap.cli import site as website
from rekap.cli.common import LOCAL_STACK, SubParsers, add_command, say
from rekap.config import Settings
from rekap.devstack.stack import LocalStack
from rekap.resources import sumsel_master_data_dir
from rekap.wiring import NightOnServers, with_session

# The demo draws a photo of the C.Hasil for every form of one kecamatan (Ilir Barat Dua, in Palembang) and for
# every misread one: a few hundred, a few seconds (the load test sends one for every form of the province).
PHOTOGRAPHED = "167101"


def demo(settings: Settings, args: argparse.Namespace) -> int:
    simulate.refuse_a_real_election(settings, args.synthetic_into)
    local = LocalStack.from_settings(settings)
    say("== 1. a fresh local stack (the demo starts from empty data every time)")
    local.reset(say)
    say("   servers, then their roles, schema, logins, topics and Kafka users, each with its own password")
    stack.up(settings, args)
    say("\n== 2. database migrations (as the owner; `stack up` applied them already)")
    db.migrate_command(settings, args)
    say("\n== 3. master data of Sumatera Selatan (regions real, TPS list synthetic), and the election key")
    masterdata.load(settings, argparse.Namespace(source=sumsel_master_data_dir(), replace=False))
    audit.key_create(settings, argparse.Namespace())
    say("\n== 4. the simulated terminals (keys from this stack's own random secret), then the tabulator")
    secret = simulate.simulation_secret(settings)

    with_session(settings, lambda session: register_simulated_terminals(NightOnServers(session, settings), secret))
    for line in local.start_services():
        say(line)
    say(f"\n== 5. election night: every TPS, both contests, {args.duration:.0f} s of evening")
    night = argparse.Namespace(
        tps=args.tps,
        duration=args.duration,
        mix="night",
        seed=2024,
        timeout=300.0,
        check=True,
        synthetic_into=args.synthetic_into,
        photos=PHOTOGRAPHED,
    )
    status = simulate.simulate(settings, night)
    site = settings.home / "site"
    say(f"\n== 6. the public results site, static, in {site}, with the audit bundle it links and its signed head")
    shutil.rmtree(site, ignore_errors=True)
    audit.export_command(settings, argparse.Namespace(folder=site / "audit" / "bundle", photos=True))
    website.build(settings, argparse.Namespace(folder=site, full=True, audit_href="audit/bundle/", watch=None))
    say("\nThe stack, the tabulator and the photo consumer keep running. Look around:")
    say(f"  .venv/bin/rekap site serve {site}   the public site at http://127.0.0.1:8080/ (or open index.html)")
    say(f"  {site}/tps/167101/1671011001001.html   a TPS page: the numbers, and the photo of the C.Hasil beside them")
    say("  .venv/bin/rekap review list            the forms held for review, each with its photo: a misread form's")
    say("                                         photo shows the paper's numbers, not the typed ones")
    say("  .venv/bin/rekap status 1671011001001    what counts for one TPS, and its history")
    say("  .venv/bin/rekap report 16 --out sumsel.html   the recapitulation (D.Hasil) of the province, printable")
    say("  .venv/bin/rekap audit watch .rekap/site --keep witness/   a witness: keep the signed head, check the next")
    say(
        f"  .venv/bin/rekap audit verify {site}/audit/bundle --election-key {site}/audit/election-key.pem --anchor "
        f"witness/heads/*.txt   recount, anchored"
    )
    say("  .venv/bin/rekap db login list          who may connect, in which role")
    say('  psql "$(.venv/bin/rekap stack url)"     KPU\'s read-only session (`rekap stack url` prints its URL)')
    say("  .venv/bin/rekap stack status           what runs where")
    say("  make down                              stop everything (data kept; `make demo` starts afresh)")
    say(f"  curl http://{settings.metrics_address}/metrics   the tabulator's metrics (Grafana: docs/monitoring.md)")
    return status


def register(commands: SubParsers) -> None:
    sub = add_command(
        commands,
        "demo",
        demo,
        "start afresh, load master data, count a simulated election night",
        reads=(*LOCAL_STACK, "metrics_address"),
        example="rekap demo   # what `make demo` runs: the whole province, about a minute\n"
        "rekap demo --tps 300 --duration 10\n"
        "rekap demo --brokers 3 --standby   # on a cluster of three brokers and a PostgreSQL with its standby",
    )
    stack.add_shape_options(sub)
    sub.add_argument("--duration", type=float, default=30.0, help="seconds the evening is compressed into")
    sub.add_argument("--tps", type=int, default=0, help="how many TPS; default all 13,206")
    simulate.add_synthetic_into(sub)
