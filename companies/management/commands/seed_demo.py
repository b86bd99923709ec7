"""`manage.py seed_demo`: fill the database with the demo groups, companies and logins."""

from __future__ import annotations

import argparse

from django.core.management.base import BaseCommand, CommandError

from companies import demo


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


class Command(BaseCommand):
    help = (
        "Create deterministic demo data: the Harbour Property Group (many companies with tenants, "
        "invoices, credit notes and payments), the small Northwind Estates group, and demo logins."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--seed", type=int, default=demo.DEFAULT_SEED)
        parser.add_argument(
            "--companies", type=_positive_int, default=demo.DEFAULT_COMPANIES,
            help="Harbour companies to create (default %(default)s).",
        )  # fmt: skip
        parser.add_argument(
            "--invoices-per-company", type=_positive_int, default=None,
            help="Exactly this many invoices per Harbour company (default: 18 months of rent).",
        )  # fmt: skip
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument(
            "--if-empty", action="store_true",
            help="Do nothing when the demo already exists (for start-up scripts).",
        )  # fmt: skip
        mode.add_argument(
            "--reset", action="store_true", help="Delete the demo groups and their data first."
        )

    def handle(self, *args, **options) -> None:
        if options["if_empty"] and demo.demo_exists():
            self.stdout.write("The demo data already exists; nothing to do.")
            self._logins_print(demo.DEMO_LOGINS)
            return
        try:
            summary = demo.demo_seed(
                seed=options["seed"],
                companies=options["companies"],
                invoices_per_company=options["invoices_per_company"],
                reset=options["reset"],
            )
        except demo.DemoAlreadySeeded as exc:
            raise CommandError(f"{exc}. Use --reset to replace it or --if-empty to skip.") from exc
        self._summary_print(summary)
        self._logins_print(summary.logins)

    def _summary_print(self, summary: demo.SeedSummary) -> None:
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {summary.companies} companies in 2 groups, {summary.tenants:,} tenants, "
                f"{summary.invoices:,} invoices, {summary.credit_notes:,} credit notes and "
                f"{summary.payments:,} payments in {summary.seconds:.1f} s."
            )
        )

    def _logins_print(self, logins) -> None:
        rows = [("Username", "Password", "Role", "Can")]
        rows += [(x.username, x.password, x.role_label, x.can) for x in logins]
        widths = [max(len(row[column]) for row in rows) for column in range(3)]
        self.stdout.write("\nDemo logins:")
        for row in rows:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
            self.stdout.write("  " + "  ".join([*cells, row[3]]))
