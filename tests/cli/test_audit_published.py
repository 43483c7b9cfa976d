"""The checkpoint published beside the log (`DB.checkpoint`) and the auditor's own files, as the tools
find and read them: never waited on (a FIFO), found beside a symlinked --db too, and the records
no checkpoint covers flagged wherever they are listed. Each command runs under a timeout: a hang
fails the test."""

import fcntl
import json
import os
import shutil
import subprocess
import unittest

from test_audit_support import SOVGW, TAMPER, audit_case, read_file, run, sovgw, write_file


class fifo_test(audit_case):
    def setUp(self):
        super().setUp()
        self.append(5)
        self.fifo = os.path.join(self.tmp, "named.fifo")
        os.mkfifo(self.fifo)

    def test_a_fifo_at_the_published_checkpoint_is_refused_at_once(self):
        os.remove(self.db + ".checkpoint")
        os.mkfifo(self.db + ".checkpoint")
        why = f"the checkpoint published at {self.db}.checkpoint: the file is a FIFO, not a regular file"
        p = sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, check=1, timeout=20)
        self.assertIn(f"  - {why}\n", p.stdout)
        doc = json.loads(sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--format", "json", check=1,
                               timeout=20).stdout)
        self.assertEqual([(p["kind"], p["text"]) for p in doc["problems"]], [("checkpoint_invalid", why)])
        j = json.loads(sovgw("audit", "report", "--db", self.db, "--pubkey", self.pub, "--format", "json", check=1,
                             timeout=20).stdout)
        self.assertEqual([p["kind"] for p in j["verification"]["problems"]], ["checkpoint_invalid"])
        # Every writer opens the log the same way (the gateway too).
        p = sovgw("audit", "checkpoint", "--db", self.db, "--keys", self.keys, check=3, timeout=20)
        self.assertIn(f"refusing to open the audit log at {self.db}: {why} (move it aside)", p.stderr)
        # query and show read it for the size it covers: as if it were not there.
        sovgw("audit", "query", "--db", self.db, check=0, timeout=20)
        # --db written relative to the working folder names the same file: one problem, not two.
        rel = os.path.relpath(self.db, self.tmp)
        doc = json.loads(sovgw("audit", "verify", "--db", rel, "--pubkey", self.pub, "--format", "json", check=1,
                               timeout=20, cwd=self.tmp).stdout)
        self.assertEqual([p["kind"] for p in doc["problems"]], ["checkpoint_invalid"], doc["problems"])

    def test_a_fifo_given_as_the_auditor_key_is_refused_at_once(self):
        p = sovgw("audit", "show", "--db", self.db, "--seq", "1", "--auditor-key", self.fifo, check=3, timeout=20)
        self.assertIn(f"secret key {self.fifo}: the file is a FIFO, not a regular file", p.stderr)
        p = sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--payloads", "--auditor-key", self.fifo,
                  check=3, timeout=20)
        self.assertIn("the file is a FIFO, not a regular file", p.stderr)


class symlinked_db_test(audit_case):
    def setUp(self):
        super().setUp()
        self.append(5, run_name="a")
        self.append(3, run_name="b")  # checkpoints at 5 and 8, 8 published beside db

    def test_the_checkpoint_beside_the_real_folder_is_checked(self):
        run(TAMPER, self.db, "truncate", "3", check=0)  # records 5..7 and their checkpoint gone
        link = os.path.join(self.tmp, "linkdb")
        os.symlink(self.db, link)
        p = sovgw("audit", "verify", "--db", link, "--pubkey", self.pub, check=1)
        self.assertIn(f"the checkpoint the gateway published at {self.db}.checkpoint", p.stdout)
        self.assertIn("FAILED", p.stdout)

    def test_a_dangling_link_at_the_published_checkpoint_is_a_problem(self):
        os.remove(self.db + ".checkpoint")
        os.symlink(os.path.join(self.tmp, "gone"), self.db + ".checkpoint")
        doc = json.loads(sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--format", "json",
                               check=1).stdout)
        self.assertEqual([(p["kind"], p["text"]) for p in doc["problems"]],
                         [("checkpoint_invalid", f"the checkpoint published at {self.db}.checkpoint is a symbolic "
                                                 f"link to {self.tmp}/gone, which does not exist")])
        rel = os.path.relpath(self.db, self.tmp)
        doc = json.loads(sovgw("audit", "verify", "--db", rel, "--pubkey", self.pub, "--format", "json", check=1,
                               cwd=self.tmp).stdout)
        self.assertEqual(len(doc["problems"]), 1, doc["problems"])


    def test_an_empty_or_foreign_published_checkpoint_is_named_for_what_it_is(self):
        # Probe round 25: an empty file was "malformed signed note", and another log's checkpoint
        # was "wrong public key, or a proof from another log" (it is no proof).
        write_file(self.db + ".checkpoint", "")
        doc = json.loads(sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--format", "json",
                               check=1).stdout)
        self.assertEqual([(p["kind"], p["text"]) for p in doc["problems"]],
                         [("checkpoint_invalid", f"the checkpoint published at {self.db}.checkpoint is empty (as a "
                                                 "crash or a full disk can leave it): it vouches for nothing; move "
                                                 "it aside")])
        other = os.path.join(self.tmp, "other")
        sovgw("keys", "init", os.path.join(self.tmp, "other-keys"), "--name", "other.sovgw.local/audit", check=0)
        run(TAMPER, other, "append-synthetic", os.path.join(self.tmp, "other-keys"), "x", "3", check=0)
        shutil.copy(other + ".checkpoint", self.db + ".checkpoint")
        out = sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, check=1).stdout
        self.assertIn(f"the checkpoint published at {self.db}.checkpoint is not one of this log's: it is signed by "
                      "other.sovgw.local/audit", out)
        self.assertIn("wrong public key, or the file is another log's", out)
        self.assertNotIn("proof", out)
        # Probe round 27: this log's own checkpoint, damaged (CR LF line endings, cut short), was
        # "not one of this log's"; it is named damaged, with the line-ending hint --checkpoint gives.
        os.remove(self.db + ".checkpoint")
        saved = os.path.join(self.tmp, "own.checkpoint")
        sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--save-checkpoint", saved)
        own = read_file(saved)
        for damaged, expected in ((own.replace("\n", "\r\n"), "has Windows line endings (CR LF)"),
                                  (own[:40], "is damaged: it is not a signed checkpoint")):
            write_file(self.db + ".checkpoint", damaged)
            out = sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, check=1).stdout
            self.assertIn(f"the checkpoint published at {self.db}.checkpoint is damaged", out)
            self.assertIn(expected, out)
            self.assertNotIn("not one of this log's", out)


class deleted_newest_test(audit_case):
    def test_every_checkpoint_over_the_deleted_records_is_named(self):
        # Probe round 14: with the published checkpoint beside the log, the summary counted the
        # failed stored checkpoint ("1 of N fail verification") but no line named it.
        self.append(12)
        run(TAMPER, self.db, "delete-newest", "1", check=0)
        p = self.verify()
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn(f"the log holds 11 records but the checkpoint the gateway published at {self.db}.checkpoint, "
                      "and a checkpoint signed in the log, cover 12: record 11 was deleted since", p.stdout)
        run(TAMPER, self.db, "delete-newest", "2", check=0)
        out = self.verify().stdout
        self.assertIn("cover 12: records 9..11 were deleted since", out)
        # A copy of a running log taken before its checkpoint file is the benign explanation (probe
        # round 25: a backup in `cp -r DB DB.checkpoint` order was an accusation alone).
        self.assertIn("or a copy of it taken before that checkpoint: copy a running log's checkpoint file first, "
                      "then its database", out)


class missing_store_test(audit_case):
    def test_a_store_emptied_or_removed_beside_its_checkpoint_is_every_record_deleted_not_no_log(self):
        # Probe round 37: `rm -rf DB/*` (or DB) left the published checkpoint beside it, and verify and
        # report said "no audit log at DB" (exit 3, a wrong path), with no JSON verdict and no report.
        self.append(12)
        held = os.path.join(self.tmp, "held.checkpoint")
        sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--save-checkpoint", held, check=0)
        for how in ("emptied", "removed"):
            with self.subTest(how=how):
                db = os.path.join(self.tmp, how)
                shutil.copytree(self.db, db)
                shutil.copy(self.db + ".checkpoint", db + ".checkpoint")
                if how == "removed":
                    shutil.rmtree(db)
                else:
                    for name in os.listdir(db):
                        path = os.path.join(db, name)
                        shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
                published = db + ".checkpoint"
                out = sovgw("audit", "verify", "--db", db, "--pubkey", self.pub, check=1).stdout
                self.assertIn(f"FAILED: the audit log at {db} does not verify\n  - the log's store is missing, but "
                              f"the checkpoint the gateway published at {published} covers 12 records: records "
                              "0..11 were deleted\n", out)
                out = sovgw("audit", "verify", "--db", db, "--pubkey", self.pub, "--checkpoint", held, check=1).stdout
                self.assertIn("the log's store is missing, but the checkpoint you hold and the checkpoint the gateway "
                              f"published at {published} cover 12 records: records 0..11 were deleted", out)
                doc = json.loads(sovgw("audit", "verify", "--db", db, "--pubkey", self.pub, "--checkpoint", held,
                                       "--format", "json", check=1).stdout)
                self.assertEqual((doc["ok"], doc["records"], doc["truncated_records"], doc["first_bad_record"]),
                                 (False, 0, 12, 0))
                self.assertEqual([p["kind"] for p in doc["problems"]], ["records_truncated"])
                rep = sovgw("audit", "report", "--db", db, "--pubkey", self.pub, "--checkpoint", held,
                            "--format", "json", check=1)
                v = json.loads(rep.stdout)["verification"]
                self.assertEqual([p["kind"] for p in v["problems"]], ["records_truncated"])
                self.assertIn("does not verify; the report says why (1 problem)", rep.stderr)
                page = os.path.join(self.tmp, how + ".html")
                sovgw("audit", "report", "--db", db, "--pubkey", self.pub, "--out", page, check=1)
                self.assertIn("store is missing, but the checkpoint the gateway published", read_file(page))
                # Only the auditor's checkpoint says so; and when none does, a wrong path, as before.
                os.remove(published)
                out = sovgw("audit", "verify", "--db", db, "--pubkey", self.pub, "--checkpoint", held, check=1).stdout
                self.assertIn("the log's store is missing, but the checkpoint you hold covers 12 records: records "
                              "0..11 were deleted", out)
                p = sovgw("audit", "verify", "--db", db, "--pubkey", self.pub, check=3)
                self.assertIn(f"no audit log at {db}", p.stderr)
                sovgw("audit", "report", "--db", db, "--pubkey", self.pub, "--format", "json", check=3)


class record_option_test(audit_case):
    def setUp(self):
        super().setUp()
        self.append(5)

    def test_two_ways_of_naming_a_record_are_refused(self):
        for command, extra in (("prove", ()), ("show", ("--auditor-key", self.auditor_key))):
            p = sovgw("audit", command, "--db", self.db, "--seq", "3", "--request-id", "req-1", *extra, check=2)
            self.assertEqual(p.stderr, f"sovgw audit {command}: --seq and --request-id each name a record: give one "
                                       "of them\n")
            self.assertEqual(p.stdout, "")

    def test_last_on_a_log_without_records_is_a_usage_error(self):
        empty = os.path.join(self.tmp, "empty")
        run(TAMPER, empty, "append-synthetic", self.keys, "none", "0", check=0)
        p = sovgw("audit", "prove", "--db", empty, "--last", check=2)
        self.assertIn("there is no last record: the log holds no records", p.stderr)


class proof_file_test(audit_case):
    def setUp(self):
        super().setUp()
        self.append(5)
        self.proof = sovgw("audit", "prove", "--db", self.db, "--seq", "2", check=0).stdout

    def test_line_endings_added_in_transit_are_named(self):
        path = os.path.join(self.tmp, "p")
        with open(path, "w", newline="") as f:
            f.write(self.proof.replace("\n", "\r\n"))
        p = sovgw("audit", "verify-proof", path, "--pubkey", self.pub, check=1)
        self.assertIn("the file has Windows line endings (CR LF)", p.stderr)
        write_file(path, self.proof + "\n")
        p = sovgw("audit", "verify-proof", path, "--pubkey", self.pub, check=1)
        self.assertIn("the file ends with a blank line after its last signature line", p.stderr)
        p = sovgw("audit", "verify", "--db", self.db, "--pubkey", self.pub, "--checkpoint", path, check=2)
        self.assertIn("the file ends with a blank line after its last signature line", p.stderr)

    def test_a_proof_is_read_from_standard_input(self):
        prove = subprocess.Popen([SOVGW, "audit", "prove", "--db", self.db, "--seq", "2"], stdout=subprocess.PIPE)
        p = subprocess.run([SOVGW, "audit", "verify-proof", "-", "--pubkey", self.pub], stdin=prove.stdout,
                           capture_output=True, text=True, timeout=20)
        prove.stdout.close()
        self.assertEqual(prove.wait(timeout=20), 0)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("OK: record 2 is included", p.stdout)

    def test_limit_0_is_refused(self):
        for text in ("0", "-1", "x", "1.5"):  # one message for each
            p = sovgw("audit", "query", "--db", self.db, "--limit", text, check=2)
            self.assertIn(f"--limit must be a whole number of at least 1, not '{text}' (leave it out for every record)",
                          p.stderr)
        # A request id that is none the gateway writes finds nothing, and says why.
        p = sovgw("audit", "query", "--db", self.db, "--request-id", "01A2", check=0)
        self.assertIn("request ids are 32 lower-case hex digits", p.stderr)
        p = sovgw("audit", "query", "--db", self.db, "--since", "2999-01-01", check=0)
        self.assertIn("--since is in the future", p.stderr)


class lagging_published_checkpoint_test(audit_case):
    # Probe round 35 (F1): a running gateway stores a checkpoint, then publishes it; an auditor who
    # verifies in between saw the writer blamed ("could not publish since ... or the file was replaced").
    def test_a_published_checkpoint_behind_the_log_while_a_writer_holds_it_is_not_blamed_on_the_writer(self):
        self.append(2, run_name="a")
        behind = read_file(self.db + ".checkpoint")  # size 2
        self.append(2, run_name="b")  # stored and published at 4
        write_file(self.db + ".checkpoint", behind)  # as if the writer had not published 4 yet
        with open(os.path.join(self.db, "sovgw-writer.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # a running gateway holds it
            out = self.verify().stdout
            page = sovgw("audit", "report", "--db", self.db, "--pubkey", self.pub, check=0).stdout
        self.assertIn("OK: 4 records", out)
        self.assertIn("records 2..3 are covered only by checkpoints stored in the log", out)
        self.assertIn("while a writer holds the log: a running gateway stores each checkpoint before it publishes "
                      "it, and may not have published this one yet: run again", out)
        self.assertNotIn("could not publish since", out)
        self.assertIn("a running gateway may not have published its newest checkpoint yet: run the report again",
                      page)
        self.assertNotIn("could not publish since", page)
        # No writer: the writer did not publish, or the file was replaced.
        out = self.verify().stdout
        self.assertIn("the writer could not publish since, and logged 'audit checkpoint not signed or published', "
                      "or the file was replaced", out)
        self.assertNotIn("run again", out)


class deleted_stored_checkpoint_test(audit_case):
    # Probe round 44 (tester 2, finding 4): the newest stored checkpoint deleted, the published one
    # over the same records intact: prove and receipt verify --db blamed a crash that never happened.
    def test_a_record_the_published_checkpoint_covers_is_not_blamed_on_a_crash(self):
        self.append(2, run_name="a")
        self.append(2, run_name="b")  # stored and published at 4
        run(TAMPER, self.db, "delete-checkpoints-from", "3", check=0)
        p = sovgw("audit", "prove", "--db", self.db, "--seq", "3", check=2)
        self.assertIn(f"record 3 is not covered by a signed checkpoint stored in the log (latest covers 2 records), "
                      f"but the checkpoint published beside it at {self.db}.checkpoint covers 4: the log's own "
                      "checkpoint over it is missing from the store (deleted, or lost with the store's newest "
                      "writes); a writer stores each checkpoint before it publishes it", p.stderr)
        self.assertNotIn("crash", p.stderr)
        self.assertNotIn("the next start of its gateway signs it", p.stderr)


class unsigned_records_test(audit_case):
    def test_query_and_show_flag_records_no_checkpoint_covers(self):
        self.append(5)  # checkpoint at 5, published
        published = read_file(self.db + ".checkpoint")
        run(TAMPER, self.db, "append-synthetic", self.keys, "forged", "3", "--payload", "none", check=0)
        run(TAMPER, self.db, "delete-checkpoints-from", "6", check=0)  # the forger drops the checkpoint at 8
        write_file(self.db + ".checkpoint", published)  # and puts back the size-5 one
        out = sovgw("audit", "query", "--db", self.db, check=0).stdout
        self.assertIn("(8 records)\nUNSIGNED: records listed from 5 to 7 are covered by no signed checkpoint", out)
        out = sovgw("audit", "query", "--db", self.db, "--tenant", "acme", "--limit", "1", check=0).stdout
        self.assertNotIn("UNSIGNED", out)
        rows = [json.loads(line) for line in
                sovgw("audit", "query", "--db", self.db, "--format", "jsonl", check=0).stdout.splitlines()]
        self.assertEqual([r["signed"] for r in rows], [True] * 5 + [False] * 3)
        csv_rows = sovgw("audit", "query", "--db", self.db, "--format", "csv", check=0).stdout.splitlines()
        self.assertTrue(csv_rows[0].endswith(",signed"))
        self.assertEqual([row.rsplit(",", 1)[1] for row in csv_rows[1:]], ["true"] * 5 + ["false"] * 3)
        shown = sovgw("audit", "show", "--db", self.db, "--request-id", "forged-1", "--auditor-key",
                      self.auditor_key).stdout
        self.assertIn("  UNSIGNED:    covered by no signed checkpoint (stored or published)", shown)
        shown = sovgw("audit", "show", "--db", self.db, "--seq", "1", "--auditor-key", self.auditor_key,
                      check=0).stdout
        self.assertNotIn("UNSIGNED", shown)


if __name__ == "__main__":
    unittest.main()
