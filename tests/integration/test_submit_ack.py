"""A submit's answer once the store has committed it: with a durable
store, the jobs of a submit are acknowledged only after their commit, and
what the batch found by its keys may end and be pruned meanwhile."""
import json
import os
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (Supervisor, check_invariant, config, connect,  # noqa: E402
                     request, run_tests, wait_for)


def supervisor(tmp):
    """SQLite store, result_max = 1: the records of all but the last job
    to end are pruned. Pool q is paused: its jobs wait, to be cancelled
    (to end) when a test wants."""
    sup = Supervisor(tmp, config(
        "supervisor", legacy_md5="yes",
        extra="log = out.log\nstore = sqlite:jobs.db\nresult_max = 1\n")
        + config("pool_echo", name="p", workers=1, work_us=0, extra="")
        + config("pool_echo", name="q", workers=1, work_us=0, extra="")
        + "[pool:sh]\ntype = exec\nworkers = 1\n")
    c1, c2 = connect(tmp), connect(tmp)
    assert request(c2, {"op": "pause", "pool": "q"})["ok"]
    return sup, c1, c2


def state(c, jid):
    r = request(c, {"op": "result", "id": jid})
    return r["job"]["state"] if r["ok"] else r["error"]


def held_commit(tmp, c1, c2, batch, meanwhile):
    """Send batch on c1 while the test holds SQLite's write lock, so that
    its commit waits (mpsup waits up to 50 ms for the lock); run
    meanwhile(); let go; return the batch's reply. A paused job, cancelled
    on c1 right after the batch, tells when the batch has been taken (a
    connection's requests run in order). A slow machine (a sanitizer
    build) may hold the lock too long: the commit fails, the batch is
    refused whole (store_error), and it is tried again."""
    db = sqlite3.connect(os.path.join(tmp, "jobs.db"), timeout=0,
                         isolation_level=None)
    try:
        for attempt in range(10):
            mark = request(c2, {"op": "submit", "pool": "q", "data": 0})
            assert mark["ok"], mark
            db.execute("BEGIN IMMEDIATE")
            try:
                c1.send_bytes(json.dumps(batch).encode())
                c1.send_bytes(json.dumps({"op": "cancel",
                                          "id": mark["id"]}).encode())
                wait_for(lambda: state(c2, mark["id"]) != "queued",
                         interval=0.001, what="the batch taken")
                meanwhile()
            finally:
                db.execute("ROLLBACK")
            reply = json.loads(c1.recv_bytes())
            json.loads(c1.recv_bytes())
            if reply.get("error") != "store_error":
                return reply
    finally:
        db.close()
    raise AssertionError("the commit never got the lock in time: %r" % reply)


def keyed_batch_outlives_its_keyed_record(tmp, wait):
    """A batch names, by its key, a job that has ended; while the batch's
    commit waits, another job ends and the keyed job's record is pruned.
    The batch was accepted: its answer must say so, with the records when
    it waits, and not that a record expired (nothing accepted)."""
    sup, c1, c2 = supervisor(tmp)
    a = request(c1, {"op": "submit", "pool": "p", "data": 1, "key": "k",
                     "wait": True, "timeout": 10})["job"]
    assert a["state"] == "done", a
    b = request(c2, {"op": "submit", "pool": "q", "data": 1})

    def prune_a():
        assert request(c2, {"op": "cancel", "id": b["id"]})["ok"]
        assert state(c2, a["id"]) == "not_found"

    reply = held_commit(tmp, c1, c2, {
        "op": "submit_many", "pool": "p", "wait": wait, "timeout": 10,
        "jobs": [{"data": 1, "key": "k"}, {"data": 2}]}, prune_a)
    assert reply["ok"], reply
    old, new = reply["ids"]
    assert old == a["id"] and new != old, (reply, a)
    if wait:
        assert [j["id"] for j in reply["jobs"]] == [old, new], reply
        assert reply["jobs"][0]["state"] == "done", reply
        assert reply["jobs"][0]["key"] == "k", reply
        assert reply["jobs"][1]["result"] == 2, reply
    else:
        r = request(c1, {"op": "result", "id": new, "wait": True,
                         "timeout": 10})
        assert r["ok"] and r["job"]["result"] == 2, r
    check_invariant(request(c1, {"op": "status"})["status"])
    c1.close()
    c2.close()
    assert sup.stop() == 0


def test_sqlite_waited_batch_answers_though_its_keyed_record_is_pruned(tmp):
    keyed_batch_outlives_its_keyed_record(tmp, True)


def test_sqlite_batch_answers_its_ids_though_its_keyed_record_is_pruned(tmp):
    keyed_batch_outlives_its_keyed_record(tmp, False)


def test_sqlite_waited_batch_takes_a_keyed_job_that_ends_before_its_commit(
        tmp):
    """The keyed job still runs when the batch names it; before the
    batch's commit it ends and is pruned: its record, taken when it
    ended, is in the answer."""
    sup, c1, c2 = supervisor(tmp)
    fifo = os.path.join(tmp, "fifo")
    os.mkfifo(fifo)
    a = request(c1, {"op": "submit", "pool": "sh", "key": "k",
                     "shell": "read x < %s && echo $x" % fifo})
    b = request(c2, {"op": "submit", "pool": "q", "data": 1})
    wait_for(lambda: state(c2, a["id"]) == "running",
             what="the keyed job running")

    def end_and_prune_a():
        with open(fifo, "w") as f:
            f.write("over\n")
        wait_for(lambda: state(c2, a["id"]) == "done", interval=0.001,
                 what="the keyed job done")
        assert request(c2, {"op": "cancel", "id": b["id"]})["ok"]
        assert state(c2, a["id"]) == "not_found"

    reply = held_commit(tmp, c1, c2, {
        "op": "submit_many", "pool": "sh", "wait": True, "timeout": 10,
        "jobs": [{"key": "k", "args": ["true"]}, {"args": ["true"]}]},
        end_and_prune_a)
    assert reply["ok"], reply
    assert reply["ids"][0] == a["id"], (reply, a)
    assert [j["state"] for j in reply["jobs"]] == ["done", "done"], reply
    assert reply["jobs"][0]["id"] == a["id"], reply
    c1.close()
    c2.close()
    assert sup.stop() == 0


def submit_naming_a_job_whose_commit_fails(tmp, wait):
    """A submit whose key names a job still in a commit under way, and
    that commit fails: the job is gone, so the submit must be refused
    too (store_error, nothing accepted), not acknowledged with the id of
    a job that does not exist (nor, waited, fail as a lost record). The
    test holds SQLite's write lock past the 50 ms mpsup
    waits for it, so that the first commit fails; the second submit must
    come while that commit waits (a try where it came after is run
    again)."""
    sup, c1, c2 = supervisor(tmp)
    c3 = connect(tmp)
    db = sqlite3.connect(os.path.join(tmp, "jobs.db"), timeout=0,
                         isolation_level=None)

    def taken(c, req, mark):
        """Send req on c, then a cancel of a paused job; return when the
        cancel, so req too, has run."""
        c.send_bytes(json.dumps(req).encode())
        c.send_bytes(json.dumps({"op": "cancel", "id": mark}).encode())
        wait_for(lambda: state(c2, mark) != "queued",
                 interval=0.001, what="the request taken")

    def commit_errors():
        return request(c2, {"op": "status"})["status"]["mpsup"][
            "store_stats"]["commit_errors"]

    try:
        for attempt in range(20):
            key = "k%d" % attempt
            m1, m2 = (request(c2, {"op": "submit", "pool": "q",
                                   "data": 0})["id"] for _ in range(2))
            errors = commit_errors()
            db.execute("BEGIN IMMEDIATE")
            try:
                taken(c1, {"op": "submit", "pool": "p", "data": 1,
                           "key": key}, m1)
                taken(c3, {"op": "submit", "pool": "p", "data": 2,
                           "key": key, "wait": wait, "timeout": 10}, m2)
                wait_for(lambda: commit_errors() > errors,
                         what="the commit failed")
            finally:
                db.execute("ROLLBACK")
            first = json.loads(c1.recv_bytes())
            json.loads(c1.recv_bytes())
            second = json.loads(c3.recv_bytes())
            json.loads(c3.recv_bytes())
            assert first.get("error") == "store_error", first
            if second.get("ok") and state(c1, second["id"]) != "not_found":
                continue    # it came after the failure: a job of its own
            assert second.get("error") == "store_error", (first, second)
            assert "nothing was accepted" in second["message"], second
            break
        else:
            raise AssertionError("no try had the second submit come "
                                 "while the first one's commit waited")
    finally:
        db.close()
    check_invariant(request(c1, {"op": "status"})["status"])
    # The store works again: the key is free and a submit is accepted.
    r = request(c1, {"op": "submit", "pool": "p", "data": 3, "key": key,
                     "wait": True, "timeout": 10})
    assert r["ok"] and r["job"]["result"] == 3, r
    for c in (c1, c2, c3):
        c.close()
    assert sup.stop() == 0


def test_sqlite_submit_naming_a_job_whose_commit_fails_is_refused(tmp):
    submit_naming_a_job_whose_commit_fails(tmp, False)


def test_sqlite_waited_submit_naming_a_job_whose_commit_fails_is_refused(
        tmp):
    submit_naming_a_job_whose_commit_fails(tmp, True)


if __name__ == "__main__":
    run_tests(globals())
