"""The desk's files: one driver per data_dir (a lock, and a pid believed only if its process wrote
it), operators' requests read safely, and a request carried out once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from cluster.desk.desk import DeskError, DeskFiles, pid_started
from tests.conftest import ROOT

KEY = b"k" * 32


def test_the_lock_says_whether_a_driver_runs_and_a_reused_pid_is_never_believed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    files = DeskFiles(tmp_path, KEY)
    assert files.driver() is None
    code = ("import sys, time; sys.path.insert(0, %r); from cluster.desk.desk import DeskFiles; "
            "f = DeskFiles(%r, b'k' * 32); f.lock_driver(); print('locked', flush=True); time.sleep(60)")
    holder = subprocess.Popen([sys.executable, "-c", code % (str(ROOT), str(tmp_path))],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(DeskError, match="another desk driver is running"):
            DeskFiles(tmp_path, KEY).lock_driver()
        assert files.driver() == 0, "a driver runs, and has not said its pid"
        files.set_meta(pid=os.getpid(), pid_started=pid_started(holder.pid))  # a pid that is not the holder's
        assert files.driver() == 0
        files.set_meta(pid=-1, pid_started=None)
        assert files.driver() == 0, "never a pid to signal that is not the driver's"
        files.set_meta(pid=holder.pid, pid_started=pid_started(holder.pid))
        assert files.driver() == holder.pid
    finally:
        holder.kill()
        holder.wait()
    assert files.driver() is None, "a dead driver's lock is gone with it (however it died)"


def test_requests_are_read_from_regular_files_only_and_never_hang_or_crash_the_desk(tmp_path) -> None:  # type: ignore[no-untyped-def]
    files = DeskFiles(tmp_path, KEY)
    run = files.for_run("r1")
    good = files.request("halt", "acc", "why", "alice")
    (files.control / "dir.json").mkdir()
    os.mkfifo(files.control / "fifo.json")
    (files.control / "big.json").write_text("[" + "1," * 40_000 + "1]")
    (files.control / "bad.json").write_text("{not json")
    (files.control / "list.json").write_text("[1, 2]")
    (files.control / "evil.json").write_text('{"id": "../../x", "action": "flatten", "who": "m", "at": 0}')
    began = time.time()
    got = run.requests()
    assert time.time() - began < 1.0, "a FIFO is never opened"
    assert sorted(r["id"] for r in got) == sorted([good, "evil"]), "the id is the file's name, never its body's"
    assert (files.control / "dir.json").is_dir() and (files.control / "fifo.json").exists()
    assert not (files.control / "bad.json").exists() and not (files.control / "list.json").exists()
    run.answer(got[0], "done")
    assert files.answer_of(got[0]["id"]) == "done" and not (files.control / f"{got[0]['id']}.json").exists()


def test_a_request_is_carried_out_once_and_a_stale_or_unsigned_one_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from cluster.config.settings import load_settings
    from cluster.desk.session import Session

    session = Session(load_settings(ROOT / "octet.yaml"), run_id="vet")
    now = time.time()
    session.handled["r1"] = "flattened ftmo-100k: 2 report(s)"
    assert session._vet({"id": "r1", "action": "flatten", "who": "alice", "at": now}) == \
        "flattened ftmo-100k: 2 report(s)", "the answer again, not a second flatten"
    assert session._vet({"id": "r2", "action": "flatten", "who": "alice", "at": now}) is None
    assert session._vet({"id": "r3", "action": "flatten", "who": "alice", "at": now - 120}).startswith(
        "refused: the request is 120 s old")
    assert session._vet({"id": "r4", "action": "reconcile", "who": "alice", "at": now}).startswith(
        "refused: unknown action 'reconcile'")
    assert session._vet({"id": "r5", "action": "halt", "who": "desk", "at": now}).startswith("refused: a request")
    for rid, at in (("r6", 1e18), ("r7", "nan"), ("r8", float("inf")), ("r9", now + 60)):  # an age that never expires
        assert session._vet({"id": rid, "action": "halt", "who": "alice", "at": at}) == \
            "refused: the request's time (at) is not a time before now", rid
    assert [n[2]["request_id"] for n in session.log.notes] == ["r3", "r4", "r5", "r6", "r7", "r8", "r9"], \
        "each refusal is audited"


def test_intents_are_kept_in_order_until_a_checkpoint_and_a_torn_or_forged_one_is_never_replayed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from actors.state import TamperedState

    files = DeskFiles(tmp_path, KEY)
    run = files.for_run("run1")
    run.save({"units": 0})
    for unit in (1, 2, 3):
        run.intend({"kind": "batch", "unit": unit, "start": unit * 10, "end": unit * 10 + 10})
    state, intents = files.for_run("run1").load()
    assert state == {"units": 0} and [i["unit"] for i in intents] == [1, 2, 3]
    run.save({"units": 2})  # a checkpoint drops the intents it covers
    run.intend({"kind": "idle", "unit": 3, "now_ns": 5})
    assert [i["unit"] for i in files.for_run("run1").load()[1]] == [3]
    run.close()
    whole = run.intent_path.read_bytes()
    for debris in (b"\0" * 8, (500).to_bytes(4, "big") + b"OCTS1", whole[:-3]):  # writes cut short
        run.intent_path.write_bytes(whole + debris)
        again = files.for_run("run1")
        assert [i["unit"] for i in again.load()[1]] == [3], "the torn record is not read"
        again.intend({"kind": "batch", "unit": 4, "start": 40, "end": 50})  # written after the last whole one
        again.close()
        assert [i["unit"] for i in files.for_run("run1").load()[1]] == [3, 4]
    assert oct(run.intent_path.stat().st_mode & 0o777) == "0o600"
    data = bytearray(run.intent_path.read_bytes())
    data[40] ^= 1  # a byte of a signed record before the last changed outside the desk
    run.intent_path.write_bytes(bytes(data))
    with pytest.raises(TamperedState):
        files.for_run("run1").load()


def test_the_intent_a_driver_of_the_previous_version_left_is_replayed_then_written_over(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from actors.state import sign
    from cluster.config.secrets import write_private

    files = DeskFiles(tmp_path, KEY)
    run = files.for_run("run1")
    run.save({"units": 4})
    run.close()
    legacy = {"kind": "batch", "start": 40, "end": 50, "beat": False, "unit": 5}  # as 8b34021 wrote it
    write_private(run.intent_path, sign(KEY, ("desk", "run1", "intent"), json.dumps(legacy).encode()))
    resumed = files.for_run("run1")
    assert resumed.load() == ({"units": 4}, [legacy])
    resumed.save({"units": 5})  # the replayed unit's checkpoint
    resumed.intend({"kind": "idle", "unit": 6, "now_ns": 1})
    resumed.close()
    assert [i["unit"] for i in files.for_run("run1").load()[1]] == [6]


def test_an_intent_log_that_is_not_a_small_regular_file_is_refused_not_followed_or_read(tmp_path) -> None:  # type: ignore[no-untyped-def]
    files = DeskFiles(tmp_path, KEY)
    run = files.for_run("run1")
    run.save({"units": 0})
    run.close()
    run.intent_path.unlink()
    os.symlink("/dev/zero", run.intent_path)
    with pytest.raises(DeskError, match="intent log"):
        files.for_run("run1").load()
    with pytest.raises(DeskError, match="intent log"):
        files.for_run("run1").intend({"unit": 1})
    run.intent_path.unlink()
    os.mkfifo(run.intent_path)
    with pytest.raises(DeskError, match="not the desk's intent log"):
        files.for_run("run1").load()  # at once: a FIFO is never opened for a read that waits
    with pytest.raises(DeskError, match="intent log"):
        files.for_run("run1").intend({"unit": 1})
    run.intent_path.unlink()
    with open(run.intent_path, "wb") as f:
        f.truncate(17 * 1024 * 1024)
    with pytest.raises(DeskError, match="at most"):
        files.for_run("run1").load()


def test_a_run_saved_by_another_version_of_the_agents_state_is_refused_in_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A checkpoint written before the agents' state changed shape (no ``state_format``, i.e. 1):
    the resume is refused before any actor reads its state, naming both formats and ``--new``."""
    from cluster.config.settings import load_settings
    from cluster.desk.session import STATE_FORMAT, ResumeRefused, Session
    from tests.conftest import replay_ticks

    settings = load_settings(ROOT / "octet.yaml", runtime__data_dir=str(tmp_path / "data"), session__ticks=500)
    files = DeskFiles(tmp_path / "desk", KEY)
    files.for_run("old").save({"units": 3, "identity": {}, "position": 0})
    session = Session(settings, run_id="old", desk=files.for_run("old"))
    with pytest.raises(ResumeRefused, match=f"state format 1, this version reads {STATE_FORMAT}.*--new"):
        session.run(replay_ticks(settings))
    assert session.exec_service is None, "refused before rust_exec or any actor started"


def test_a_resume_with_other_settings_of_an_account_is_refused_naming_it_but_not_for_its_last_trade(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The agents' saved state was made under the accounts' settings: a desk started again with another firm or
    balance for an account resumed on the old ones with no word (status kept FTMO's 5,000 of daily headroom). Only
    last_trade may change (docs/operators.md)."""
    from cluster.adapters.feeds.paced import ReplayFeed
    from cluster.config.settings import load_settings
    from cluster.desk.session import ResumeRefused, Session
    from tests.conftest import replay_ticks

    def session(**overrides: object) -> tuple[Session, object]:
        settings = load_settings(ROOT / "octet.yaml", runtime__data_dir=str(tmp_path / "data"), session__ticks=500)
        if overrides:
            settings.accounts[0] = settings.accounts[0].model_copy(update=overrides)
        files = DeskFiles(tmp_path / "desk", KEY)
        return Session(settings, run_id="r", desk=files.for_run("r")), ReplayFeed(replay_ticks(settings))

    ran, feed = session()
    saved = {"identity": ran._identity(feed)}
    for changed, refused in (({"firm": "trailing_funded"}, True), ({"balance": Decimal(200_000)}, True),
                             ({"last_trade": datetime(2026, 3, 1, tzinfo=UTC)}, False),
                             ({"balance": Decimal("100000.00")}, False)):  # the same number, written otherwise
        again, feed = session(**changed)
        again.identity = again._identity(feed)
        acc = again.account_ids[0]
        if refused:
            with pytest.raises(ResumeRefused, match=rf"on other settings of {acc} than these settings give.*--new"):
                again._restore(saved, feed)
        else:
            assert again.identity == saved["identity"]
    # a state saved before account settings were part of it is not refused for lacking them; its feed still counts
    older = {k: v for k, v in saved["identity"].items() if k != "account_settings"}
    again, feed = session(firm="trailing_funded")
    assert Session.differs(older, again._identity(feed)) == []
    assert Session.differs({**older, "instruments": ["EURUSD"]}, again._identity(feed)) == ["instruments"]
    # a setting a later version adds to an account is not in a state saved before it: not a difference
    acc = again.account_ids[0]
    before = {**saved["identity"], "account_settings": {
        a: {k: v for k, v in got.items() if k != "commission_per_lot"}
        for a, got in saved["identity"]["account_settings"].items()}}
    assert Session.differs(before, ran._identity(feed)) == []
    assert Session.differs(before, session(firm="trailing_funded")[0]._identity(feed)) == [f"settings of {acc}"]
