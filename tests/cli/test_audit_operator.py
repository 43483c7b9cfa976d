"""The operator as adversary (probe round 30): what the holder of the log's keys can rewrite after
the auditor's last checkpoint, and what the auditor's commands still catch: a prompt that is not the
body the record says was forwarded, a record rewritten after its payload was sealed, a log replaced
under another name and key, a record removed that a client holds a receipt for; and how a log is
named against a checkpoint the auditor holds (a rollback, a fork)."""

import json
import os
import re
import time
import shutil
import unittest

from test_audit_support import BUILD_DIR, TAMPER, audit_case, run, sovgw, write_file

SIGN = os.path.join(BUILD_DIR, "tests", "support", "sign-request")
URL = "https://gw.example:8443/v1/chat/completions"


class operator_case(audit_case):
    # 30 synthetic records (tests/../audit/synthetic.cpp): record i is tenant i % 5's (acme: 0, 5,
    # 10, 15, 25), sealed and forwarded to cluster i % 3 (fra-1 DE, par-1 FR, ams-1 NL), except the
    # US ones with an even i (20, 22, 24): denied, 403, nothing sealed. One writer session: every
    # tenant's payloads are under its data key v1.
    def setUp(self):
        super().setUp()
        self.append(30)

    def copy(self, name):
        """A copy of the log, without the checkpoint its writer published beside it (an operator
        who rewrites the log replaces that file too)."""
        db = os.path.join(self.tmp, name)
        shutil.copytree(self.db, db)
        return db

    def verify_payloads(self, db, *extra, check):
        return sovgw("audit", "verify", "--db", db, "--pubkey", self.pub, "--payloads", "--auditor-key",
                     self.auditor_key, *extra, check=check)

    def problems(self, db):
        doc = json.loads(self.verify_payloads(db, "--format", "json", check=1).stdout)
        return [(p["kind"], p["record"]) for p in doc["problems"]], doc

    def show(self, db, seq, check):
        return sovgw("audit", "show", "--db", db, "--seq", str(seq), "--auditor-key", self.auditor_key, check=check)


class forwarded_body_test(operator_case):
    def test_a_sealed_prompt_that_is_not_the_body_forwarded_fails_verify_and_show(self):
        # As a gateway writes it: the prompt sealed is the body forwarded (record 30).
        run(TAMPER, self.db, "append-forwarded", self.keys, '{"q":"sent"}', '{"q":"sent"}', check=0)
        self.assertIn("every stored payload opens with the auditor key",
                      self.verify_payloads(self.db, check=0).stdout)
        p = self.show(self.db, 30, check=0)
        self.assertIn('--- prompt (12 bytes) ---\n{"q":"sent"}\n', p.stdout)
        self.assertNotIn("forwarded", p.stderr)
        # Record 31 seals a prompt that was never sent: its forwarded_digest is another body's.
        run(TAMPER, self.db, "append-forwarded", self.keys, '{"q":"NEVER SENT"}', '{"q":"sent"}', check=0)
        problems, doc = self.problems(self.db)
        self.assertEqual(problems, [("forwarded_digest_mismatch", 31)])
        self.assertEqual(doc["first_bad_record"], 31)
        out = self.verify_payloads(self.db, check=1).stdout
        self.assertIn("record 31: the sealed prompt is not the body the record says was forwarded (its "
                      "Content-Digest is sha-256=:", out)
        self.assertIn("the payload was replaced after sealing, or the gateway sealed one body and forwarded "
                      "another", out)
        p = self.show(self.db, 31, check=1)
        self.assertIn('--- prompt (18 bytes; NOT the body forwarded: see below) ---\n{"q":"NEVER SENT"}\n', p.stdout)
        self.assertIn("the sealed prompt of record 31 is not the body the record says was forwarded", p.stderr)


class rewritten_record_test(operator_case):
    def resigned(self, name, *ops):
        db = self.copy(name)
        for op in ops:
            run(TAMPER, db, *op, check=0)
        run(TAMPER, db, "resign", self.keys, check=0)
        return db

    def test_records_rewritten_after_sealing_are_each_named_and_the_data_key_is_not_blamed(self):
        db = self.resigned("rewritten", ("rewrite", "0", "model", "gpt-4o"), ("rewrite", "10", "model", "gpt-4o"))
        self.assertEqual(self.verify(db).returncode, 0)  # re-signed: the tree and checkpoints agree
        problems, doc = self.problems(db)
        self.assertEqual(problems, [("payload_record_mismatch", 0), ("payload_record_mismatch", 10)])
        self.assertEqual(doc["first_bad_record"], 0)
        out = self.verify_payloads(db, check=1).stdout
        for seq in (0, 10):
            self.assertIn(f"record {seq}: the stored payload matches the hash its record commits to but does not "
                          "open with the record's fields under tenant 'acme' data key v1, which opens the tenant's "
                          "other payloads: the record's fields or its payload were changed after sealing (the "
                          "record was rewritten, or a payload moved)", out)
        self.assertNotIn("the data key was replaced", out)
        p = self.show(db, 10, check=1)
        self.assertIn("the record's fields or its payload were changed after sealing", p.stderr)
        self.assertNotIn("the data key was replaced", p.stderr)

    def test_two_payloads_swapped_with_their_hashes_are_both_named(self):
        db = self.resigned("swapped", ("swap-payloads", "0", "5"))
        problems, _ = self.problems(db)
        self.assertEqual(problems, [("payload_record_mismatch", 0), ("payload_record_mismatch", 5)])
        self.assertIn("the record's fields or its payload were changed after sealing", self.show(db, 5, check=1).stderr)

    def test_the_only_payload_under_a_data_key_names_both_causes(self):
        self.append(1, run_name="later")  # record 30: a new writer session, acme's data key v2 seals it alone
        db = self.resigned("alone", ("rewrite", "30", "model", "gpt-4o"))
        problems, _ = self.problems(db)
        self.assertEqual(problems, [("payload_undecryptable", 30)])
        both = ("the data key was replaced (or damaged), or the record's fields or its payload were changed after "
                "sealing")
        out = self.verify_payloads(db, check=1).stdout
        self.assertIn("record 30: the stored payload matches the hash its record commits to but does not open under "
                      f"tenant 'acme' data key v2, which seals no other payload: {both}", out)
        self.assertIn(f"which seals no other stored payload of the tenant: {both}", self.show(db, 30, check=1).stderr)

    def test_a_data_key_that_opens_none_of_its_payloads_was_replaced(self):
        db = self.copy("replaced")
        run(TAMPER, db, "replace-data-key", "acme", "1", os.path.join(self.keys, "auditor.pub"), check=0)
        problems, _ = self.problems(db)
        # Also against the commitment in record 0, acme's first (no auditor key needed for that one).
        self.assertEqual(problems, [("payload_undecryptable", 0), ("data_key_not_committed_one", 0)])
        out = self.verify_payloads(db, check=1).stdout
        self.assertIn("records 0, 5, 10, 15 and 25: the stored payloads match the hashes their records commit to "
                      "but none of them opens under tenant 'acme' data key v1: the data key was replaced", out)
        self.assertIn("the data key was replaced", self.show(db, 5, check=1).stderr)


class replaced_log_test(operator_case):
    def test_a_held_checkpoint_of_another_log_name_and_key_is_a_verification_failure(self):
        held = os.path.join(self.tmp, "visit-1.checkpoint")
        sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--save-checkpoint", held, check=0)
        other = os.path.join(self.tmp, "other-keys")
        sovgw("keys", "init", other, "--name", "gw2.sovgw.local/audit", check=0)
        run(TAMPER, self.db, "resign", other, check=0)
        os.remove(self.db + ".checkpoint")
        other_pub = os.path.join(other, "signing.pub")
        sovgw("audit", "verify", "--db", self.db, "--pubkey", other_pub, check=0)  # alone, it verifies
        said = ("the log you were given is not the log this checkpoint was saved from: another name and signing "
                "key")
        p = sovgw("audit", "verify", "--db", self.db, "--pubkey", other_pub, "--checkpoint", held, check=1)
        self.assertIn("FAILED", p.stdout)
        self.assertIn(said, p.stdout)
        self.assertEqual(p.stderr, "")
        doc = json.loads(sovgw("audit", "verify", "--db", self.db, "--pubkey", other_pub, "--checkpoint", held,
                               "--format", "json", check=1).stdout)
        self.assertEqual([p["kind"] for p in doc["problems"]], ["log_replaced"])
        self.assertIn(said, doc["problems"][0]["text"])
        out = os.path.join(self.tmp, "r.json")
        sovgw("audit", "report", "--db", self.db, "--pubkey", other_pub, "--checkpoint", held, "--format", "json",
              "--out", out, check=1)
        with open(out, encoding="utf-8") as f:
            report = json.load(f)
        self.assertEqual([p["kind"] for p in report["verification"]["problems"]], ["log_replaced"])


class held_checkpoint_wording_test(operator_case):
    def saved(self, db, name):
        path = os.path.join(self.tmp, name)
        sovgw("audit", "verify", "--db", db, "--pubkey", self.pub, "--save-checkpoint", path, check=0)
        return path

    def test_a_log_older_than_the_checkpoint_the_auditor_verified_is_a_rollback_not_a_copy(self):
        held = self.saved(self.db, "visit-2.checkpoint")
        db = self.copy("rolled-back")
        run(TAMPER, db, "truncate", "4", check=0)
        out = sovgw("audit", "verify", "--db", db, "--pubkey", self.pub, "--checkpoint", held, check=1).stdout
        self.assertIn("the log holds 26 records but the checkpoint you hold covers 30: at least records 26..29 are "
                      "gone since you verified it, and whether the 26 records still here are the ones it signs cannot "
                      "be checked from a shorter log (the log you verified, rolled back, or a new log under the same "
                      "key)", out)
        self.assertNotIn("a copy of it taken before that checkpoint", out)

    def test_a_new_log_shorter_than_the_checkpoint_held_is_not_said_to_be_its_signed_prefix(self):
        # Probe round 37 (finding 4): a log wiped and recreated under the same key, one record long,
        # was "records 1..29 were deleted", "first record that does not match: 1", "1 records".
        held = self.saved(self.db, "visit.checkpoint")
        new = os.path.join(self.tmp, "new")
        self.append(1, run_name="new", db=new)
        out = sovgw("audit", "verify", "--db", new, "--pubkey", self.pub, "--checkpoint", held, check=1).stdout
        self.assertIn("the log holds 1 record but the checkpoint you hold covers 30: at least records 1..29 are gone "
                      "since you verified it, and whether the record still here is the one it signs cannot be checked "
                      "from a shorter log (the log you verified, rolled back, or a new log under the same key)", out)
        self.assertNotIn("first record that does not match", out)
        self.assertNotIn("1 records", out)
        doc = json.loads(sovgw("audit", "verify", "--db", new, "--pubkey", self.pub, "--checkpoint", held,
                               "--format", "json", check=1).stdout)
        self.assertEqual([p["kind"] for p in doc["problems"]], ["records_truncated"])
        self.assertIsNone(doc["first_bad_record"])

    def test_a_held_checkpoint_of_a_smaller_log_under_the_same_key_is_a_fork_not_a_rewrite(self):
        # Probe round 37 (finding 3): another log's checkpoint (same keys, size 2) given for this
        # 30-record log was "records 0..1 ... altered, and the stored tree was rewritten", and the
        # log's own checkpoints, whose signatures verify, were counted as failing verification.
        other = os.path.join(self.tmp, "other")
        self.append(2, run_name="other", db=other)
        held = other + ".checkpoint"
        out = sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--checkpoint", held, check=1).stdout
        self.assertIn("the checkpoint you hold at size 2: its signed root does not match the recomputed tree: this "
                      "log and the checkpoint you hold sign two different histories under one key, so one of them is "
                      "a fork: either this log was rewritten, or the checkpoint you hold belongs to another log that "
                      "shares the key (a second gateway or a staging log under the same keys, or the wrong file); the "
                      "log's own checkpoint at size 30, whose signature verifies, signs its records", out)
        self.assertIn("1 of 1 stored checkpoint is signed by the key and matches the records, but contradicts a "
                      "checkpoint kept outside the log (the fork named above), none verifies", out)
        for wrong in ("was altered", "rewritten to match", "signed over the rewrite", "fail verification",
                      "fails verification"):
            self.assertNotIn(wrong, out)
        doc = json.loads(sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--checkpoint", held,
                               "--format", "json", check=1).stdout)
        self.assertEqual((doc["stored_checkpoints"], doc["checkpoints"], doc["failed_checkpoints"],
                          doc["contradicting_checkpoints"]), (1, 0, 0, 1))
        self.assertEqual([p["kind"] for p in doc["problems"]], ["checkpoint_mismatch"])

    def test_the_report_gives_each_checkpoint_kept_outside_the_log_its_own_verdict(self):
        # Probe round 40: the operator rewrote a record, re-signed the log and published its new
        # checkpoint beside it. The report's "End of the log" listed the auditor's checkpoint (which the
        # log contradicts) and the operator's file together as "reproduced", counting 1, JSON
        # tail_checked true; "Checked against checkpoint" said no stored checkpoint verifies.
        held = self.saved(self.db, "visit.checkpoint")
        db = self.copy("rewritten-published")
        run(TAMPER, db, "rewrite", "3", "model", "gpt-4o", check=0)
        run(TAMPER, db, "resign", self.keys, check=0)
        shutil.copy(self.saved(db, "operator.checkpoint"), db + ".checkpoint")  # the operator republishes
        args = ("audit", "report", "--db", db, "--pubkey", self.pub, "--checkpoint", held)
        doc = json.loads(sovgw(*args, "--format", "json", check=1).stdout)["verification"]
        self.assertFalse(doc["tail_checked"])
        self.assertEqual([(h["source"], h["verdict"]) for h in doc["held_from"]],
                         [("checkpoint_option", "contradicted"), ("published", "reproduced")])
        page = sovgw(*args, check=1).stdout
        end = re.search(r"<dt>End of the log</dt><dd[^>]*>(.*?)</dd>", page).group(1)
        self.assertIn("checked against 2 checkpoints kept outside it", end)
        self.assertRegex(end, r"--checkpoint [^<]*visit.checkpoint</code> \(size 30\): <strong>CONTRADICTED")
        self.assertRegex(end, r"published at <code>[^<]*</code> \(size 30\): reproduced")
        self.assertNotIn("the log is as it was then", end)
        checked = re.search(r"<dt>Checked against checkpoint</dt><dd[^>]*>(.*?)</dd>", page).group(1)
        self.assertNotIn("no stored checkpoint verifies", checked)
        self.assertIn("signed by this key and matches the records, but contradicts a checkpoint kept outside the "
                      "log", checked)
        # Without a published file: the row is still there, and says so.
        os.remove(db + ".checkpoint")
        page = sovgw(*args, check=1).stdout
        self.assertRegex(page, r"<dt>End of the log</dt><dd class=\"bad\">checked against 1 checkpoint kept outside "
                               r"it: the one you hold, <code>--checkpoint [^<]*</code> \(size 30\): <strong>CONTRADICTED")

    def test_payloads_are_checked_on_a_log_that_fails(self):
        # Probe round 40: --payloads on a log whose records fail was skipped without a word (the report
        # then said "not checked ... --payloads checks them").
        db = self.copy("deleted-and-payload-gone")
        run(TAMPER, db, "delete", "2", check=0)
        run(TAMPER, db, "delete-payload", "6", check=0)
        p = sovgw("audit", "verify", "--db", db, "--pubkey", self.pub, "--payloads", check=1)
        self.assertIn("record 2 is missing", p.stdout)
        self.assertIn("record 6: its sealed payload is missing", p.stdout)
        self.assertIn("payloads (checked although the records do not verify)", p.stdout)
        doc = json.loads(sovgw("audit", "report", "--db", db, "--pubkey", self.pub, "--payloads", "--format",
                               "json", check=1).stdout)["verification"]
        self.assertIsNotNone(doc["payloads_checked"])
        self.assertIn("payload_missing", [q["kind"] for q in doc["problems"]])
        page = sovgw("audit", "report", "--db", db, "--pubkey", self.pub, "--payloads", check=1).stdout
        self.assertNotIn("<code>--payloads</code> checks them", page)

    def test_a_fork_checked_against_the_other_sides_checkpoint_does_not_say_which_was_rewritten(self):
        # Auditor A saw this log; auditor B a laundered one under the same key (a fork).
        fork = self.copy("fork-b")
        run(TAMPER, fork, "rewrite", "3", "model", "gpt-4o", check=0)
        run(TAMPER, fork, "resign", self.keys, check=0)
        b_held = self.saved(fork, "b-visit.checkpoint")
        os.remove(self.db + ".checkpoint")  # A's log as the operator hands it over, copied without it
        out = sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--checkpoint", b_held, check=1).stdout
        self.assertIn("the log forked or was rewritten", out)
        self.assertIn("the checkpoint you hold at size 30: its signed root does not match the recomputed tree: this "
                      "log and the checkpoint you hold sign two different histories of size 30 under one key, so "
                      "one of them is a fork", out)
        self.assertNotIn("the stored tree was rewritten", out)
        self.assertNotIn("was altered", out)


class removed_record_test(operator_case):
    def receipt(self, name, request_id, *fields, status=200):
        argv = [SIGN, "receipt", "--key", self.http_key, "--method", "POST", "--authority", "gw.example:8443",
                "--target", "/v1/chat/completions", "--status", str(status),
                "--header", f'Sovereign-Request-Id: "{request_id}"']
        for f in fields:
            argv += ["--header", f]
        path = os.path.join(self.tmp, name)
        write_file(path, run(*argv, check=0).stdout)
        return path

    def receipt_verify(self, head, *extra, check):
        return sovgw("receipt", "verify", head, "--key", self.http_pub, "--method", "POST", "--url", URL, *extra,
                     check=check)

    def setUp(self):
        super().setUp()
        self.http_key = os.path.join(self.tmp, "gw.key")
        sovgw("keys", "http-new", self.http_key, check=0)
        self.http_pub = os.path.join(self.tmp, "gw.jwk")
        write_file(self.http_pub, sovgw("keys", "http-public", self.http_key, check=0).stdout)

    permit_3 = ("Sovereign-Decision: permit", 'Sovereign-Policy-Version: "2026-11-01.1"',
                'Sovereign-Cluster: "fra-1"', "Sovereign-Cluster-Country: DE")

    def test_an_altered_record_no_checkpoint_covers_yet_is_not_promised_a_signature(self):
        # Probe round 40: receipt verify --db and prove said of a record rewritten after its last
        # checkpoint was deleted that "the next start of its gateway signs it", while the writer refuses
        # to open the log: the record's leaf contradicts the stored tree.
        db = os.path.join(self.tmp, "unsigned-altered")
        shutil.copytree(self.db, db)
        run(TAMPER, db, "delete-checkpoints-from", "1", check=0)
        run(TAMPER, db, "rewrite", "3", "model", "gpt-4o", check=0)
        head = self.receipt("ok.txt", "req-3", *self.permit_3)
        out = self.receipt_verify(head, "--db", db, check=1).stdout
        self.assertIn("the log cannot be tied to the receipt: the record with request id 'req-3' agrees with it, "
                      "but record 3 is not covered by a signed checkpoint yet", out)
        self.assertIn("its leaf hash does not match the stored Merkle tree: the record or the stored tree was "
                      "altered", out)
        self.assertNotIn("signs it, not before", out)
        p = sovgw("audit", "prove", "--db", db, "--seq", "3", check=1)
        self.assertIn("its leaf hash does not match the stored Merkle tree", p.stderr)
        self.assertNotIn("signs it, not before", p.stderr)
        # An intact record there still gets the crash reading.
        p = sovgw("audit", "prove", "--db", db, "--seq", "4", check=2)
        self.assertIn("the next start of its gateway signs it", p.stderr)

    def test_prove_of_a_request_id_the_log_lacks_is_a_failed_check_that_names_a_removed_record(self):
        p = sovgw("audit", "prove", "--db", self.db, "--request-id", "gone-1", check=1)
        self.assertIn("no record with request id 'gone-1'", p.stderr)
        # The receipt leaves in the head, before the record is durable: a gateway killed mid-response
        # leaves a valid receipt and no record, so removal is one of two readings, and the message says
        # which evidence tells them apart.
        self.assertIn("a client's receipt for this request id that `sovgw receipt verify` accepts means the "
                      "record was removed from the log, or the gateway stopped (a crash or kill) or could not "
                      "write the record before that response was complete", p.stderr)
        self.assertIn("a client that received the whole response (every Content-Length byte, or a stream's terminating "
                      "chunk) holds proof the record was made durable, so then it was removed", p.stderr)
        self.assertNotIn("means the record was removed from the log (", p.stderr)
        self.assertEqual(p.stdout, "")

    def test_receipt_verify_with_db_checks_the_record_says_what_the_receipt_says(self):
        head = self.receipt("ok.txt", "req-3", *self.permit_3)
        out = self.receipt_verify(head, "--db", self.db, check=0).stdout
        self.assertIn("receipt verifies", out)
        self.assertIn("the log agrees: record 3 carries request id 'req-3' with status 200, decision permit, "
                      "policy 2026-11-01.1, cluster fra-1 in DE", out)
        deny = self.receipt("deny.txt", "req-20", "Sovereign-Decision: deny",
                            'Sovereign-Policy-Version: "2026-11-01.1"', status=403)
        self.assertIn("the log agrees: record 20", self.receipt_verify(deny, "--db", self.db, check=0).stdout)
        # The record rewritten: another cluster, another country, another status.
        laundered = ("Sovereign-Decision: permit", 'Sovereign-Policy-Version: "2026-11-01.1"',
                     'Sovereign-Cluster: "par-1"', "Sovereign-Cluster-Country: FR")
        head = self.receipt("moved.txt", "req-3", *laundered, status=201)
        out = self.receipt_verify(head, "--db", self.db, check=1).stdout
        self.assertIn("receipt verifies", out)
        self.assertIn("the log CONTRADICTS the receipt: record 3 (request id 'req-3')", out)
        self.assertIn("  status: the receipt says 201, the record 200\n", out)
        self.assertIn("  cluster: the receipt says par-1, the record fra-1\n", out)
        self.assertIn("  cluster country: the receipt says FR, the record DE\n", out)
        self.assertIn("the gateway answered one thing and logged another: the record was rewritten", out)
        # No record: removed, or the response was never complete (the receipt left in its head, before
        # the record was durable); only a client holding the whole response shows it was removed.
        head = self.receipt("gone.txt", "gone-1", *self.permit_3)
        out = self.receipt_verify(head, "--db", self.db, check=1).stdout
        self.assertIn("the log holds NO record with request id 'gone-1'", out)
        self.assertNotIn("so its record was removed", out)
        self.assertIn("either the record was removed from the log, or the response was never complete (the "
                      "gateway stopped, a crash or kill, or could not write the record, before its last byte)", out)
        self.assertIn("a client that received the whole response (every Content-Length byte, or a stream's terminating "
                      "chunk) holds proof its record was made durable: then it was removed", out)
        # A receipt that does not verify is not compared with anything.
        p = sovgw("receipt", "verify", head, "--key", self.http_pub, "--method", "GET", "--url", URL, "--db", self.db,
                  check=1)
        self.assertIn("receipt does NOT verify", p.stdout)
        self.assertNotIn("the log", p.stdout)
        # No log there: an environment error.
        p = self.receipt_verify(head, "--db", os.path.join(self.tmp, "nowhere"), check=3)

    def test_a_receipt_newer_than_the_whole_log_says_the_log_may_be_an_older_copy(self):
        # Probe round 38: checked against an honest backup taken before the receipt was signed, the
        # missing record was blamed on deletion only ("then it was removed").
        def receipt_at(name, created):
            argv = [SIGN, "receipt", "--key", self.http_key, "--method", "POST", "--authority", "gw.example:8443",
                    "--target", "/v1/chat/completions", "--status", "200", "--created", str(created),
                    "--header", 'Sovereign-Request-Id: "after-the-backup"']
            for f in self.permit_3:
                argv += ["--header", f]
            path = os.path.join(self.tmp, name)
            write_file(path, run(*argv, check=0).stdout)
            return path
        # Signed before the log's newest record: the log is not older than the receipt.
        earlier = self.receipt_verify(receipt_at("earlier.txt", int(time.time()) - 3600), "--db", self.db,
                                      check=1).stdout
        self.assertNotIn("the log you gave ends before this receipt was signed", earlier)
        head = receipt_at("later.txt", int(time.time()) + 120)  # after every record of the log
        out = self.receipt_verify(head, "--db", self.db, check=1).stdout
        self.assertIn("the log holds NO record with request id 'after-the-backup'", out)
        self.assertIn("then it was removed, or the log you gave is a copy older than the receipt", out)
        self.assertRegex(out, r"the log you gave ends before this receipt was signed: its newest record \(record 29\) "
                              r"ended \S+, the receipt was created \S+: an older copy or a backup of the log")

    def test_a_deleted_record_whose_index_entry_remains_is_named_removed_not_maybe_never_written(self):
        # Probe round 37: the request id index still named the deleted record, yet prove, show and
        # receipt verify said the index listed none and left a crash before the response's end open.
        for seq in (3, 29):  # one in the middle, the newest
            with self.subTest(seq=seq):
                gone = self.copy(f"gone-{seq}")
                run(TAMPER, gone, "delete", str(seq), check=0)
                said = (f"no record with request id 'req-{seq}': the request id index names record {seq}, but "
                        f"record {seq} is missing from the log (deleted; sovgw audit verify names what changed), "
                        "and none of the 29 records the log holds carries it")
                for cmd in (["prove"], ["show", "--auditor-key", self.auditor_key]):
                    p = sovgw("audit", cmd[0], "--db", gone, "--request-id", f"req-{seq}", *cmd[1:], check=1)
                    self.assertIn(said + ": the record was written, then removed from the log (its index entry "
                                  "remains)", p.stderr)
                    self.assertNotIn("lists none", p.stderr)
                    self.assertNotIn("crash", p.stderr)
                    self.assertEqual(p.stdout, "")
                head = self.receipt(f"r{seq}.txt", f"req-{seq}", *self.permit_3)
                out = self.receipt_verify(head, "--db", gone, check=1).stdout
                self.assertIn(f"the log holds NO record with request id 'req-{seq}'\n  ({said})\n", out)
                self.assertIn(f"the record was removed from the log: it was written (the request id index still "
                              f"names record {seq}), then deleted", out)
                self.assertNotIn("crash", out)
                self.assertNotIn("never complete", out)

    def test_receipt_verify_with_db_refuses_a_record_the_signed_tree_does_not_hold_there(self):
        head = self.receipt("ok.txt", "req-3", *self.permit_3)
        # Moved: records 3 and 4 exchanged. The record is intact and says what the receipt says,
        # but not where the signed tree has it.
        moved = self.copy("moved")
        run(TAMPER, moved, "swap", "3", "4", check=0)
        p = self.receipt_verify(head, "--db", moved, check=1)
        self.assertNotIn("the log agrees", p.stdout)
        self.assertIn("the log cannot be tied to the receipt: the record with request id 'req-3' agrees with it, "
                      "but record 4 does not lead to the root of the latest stored checkpoint (size 30)", p.stdout)
        self.assertIn("the request id index does not list request id 'req-3', but record 4 carries it: the index "
                      "is damaged", p.stderr)
        self.assertIn("the record stored at position 4 is not record 4: it carries seq 3: the log's records were "
                      "moved", p.stderr)
        # Rewritten where the receipt does not look (the model), the compared fields intact.
        rewritten = self.copy("rewritten")
        run(TAMPER, rewritten, "rewrite", "3", "model", "gpt-4o", check=0)
        p = self.receipt_verify(head, "--db", rewritten, check=1)
        self.assertNotIn("the log agrees", p.stdout)
        self.assertIn("but record 3 does not lead to the root", p.stdout)


if __name__ == "__main__":
    unittest.main()
