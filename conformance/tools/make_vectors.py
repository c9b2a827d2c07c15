#!/usr/bin/env python3
"""Writes the JSON conformance vectors under conformance/vectors/ from the compact cases below.

The expectations here are written by hand from PROTOCOL.md, not produced by any implementation: this script only
spares the author from typing the verbose wire form of every change. Run it after editing a case:

    python3 conformance/tools/make_vectors.py
"""
import json
import os
import shutil

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "vectors")


def t(minute, logical=0, second=0):
    return f"2026-11-23T10:{minute:02d}:{second:02d}.000Z/{logical}"


def ms(minute, second=0):
    # 2026-11-23T10:00:00Z in milliseconds since 1970
    return 1795428000000 + minute * 60000 + second * 1000


def change(dot, ctx, hlc, entity, rid, op, fields=None, delta=None, quantity=None, author=None):
    rep, n = dot.split(":")
    c = {
        "dot": {"replica": rep, "counter": int(n)},
        "context": ctx,
        "hlc": hlc,
        "author": author or {"a": "alice", "b": "bob", "c": "carol"}.get(rep, "it-admin"),
        "entity": entity,
        "record_id": rid,
        "op": op,
    }
    if fields is not None:
        c["fields"] = fields
    if delta is not None:
        c["delta"] = delta
    if quantity is not None:
        c["quantity"] = quantity
    return c


def step(c, status="applied", authority="server"):
    return {"authority": authority, "change": c, "expect_status": status}


def merge_case(name, description, entity, rid, steps, values, conflicts=(), deleted=False, oversold=None):
    expect = {"values": values, "deleted": deleted, "conflicts": [
        {"field": f, "winner": w, "loser": l} for (f, w, l) in conflicts]}
    if oversold is not None:
        expect["oversold"] = oversold
    return {"name": name, "description": description, "entity": entity, "record_id": rid,
            "steps": steps, "expect": expect}


files = {}


def add(path, kind, description, cases):
    files[path] = {"kind": kind, "description": description, "cases": cases}


# MARK: - Vector clocks

add("vector-clock/compare.json", "clock_compare", "compare(a, b): before, after, equal or concurrent", [
    {"name": "empty-equals-empty", "description": "two empty clocks are equal", "a": {}, "b": {}, "expect": "equal"},
    {"name": "same-entries-equal", "description": "identical entries are equal",
     "a": {"a": 2, "b": 1}, "b": {"b": 1, "a": 2}, "expect": "equal"},
    {"name": "zero-entry-is-absent", "description": "an entry of 0 is the same as no entry",
     "a": {"a": 2, "b": 0}, "b": {"a": 2}, "expect": "equal"},
    {"name": "empty-before-anything", "description": "the empty clock is before any non-empty clock",
     "a": {}, "b": {"a": 1}, "expect": "before"},
    {"name": "one-entry-less-is-before", "description": "all entries <= and one < is before",
     "a": {"a": 1, "b": 3}, "b": {"a": 2, "b": 3}, "expect": "before"},
    {"name": "missing-replica-is-before", "description": "b has seen a replica a has not",
     "a": {"a": 2}, "b": {"a": 2, "c": 1}, "expect": "before"},
    {"name": "greater-is-after", "description": "all entries >= and one > is after",
     "a": {"a": 5, "b": 3}, "b": {"a": 4, "b": 3}, "expect": "after"},
    {"name": "extra-replica-is-after", "description": "a has seen an extra replica",
     "a": {"a": 1, "server": 9}, "b": {"a": 1}, "expect": "after"},
    {"name": "disjoint-is-concurrent", "description": "each saw a replica the other did not",
     "a": {"a": 1}, "b": {"b": 1}, "expect": "concurrent"},
    {"name": "crossed-is-concurrent", "description": "one entry greater, another smaller",
     "a": {"a": 3, "b": 1}, "b": {"a": 2, "b": 2}, "expect": "concurrent"},
    {"name": "concurrent-with-shared-past", "description": "a common prefix does not make clocks ordered",
     "a": {"a": 4, "b": 2, "c": 7}, "b": {"a": 4, "b": 3, "c": 6}, "expect": "concurrent"},
])

add("vector-clock/merge.json", "clock_merge", "merge(a, b): the pointwise maximum", [
    {"name": "pointwise-max", "description": "each entry takes the larger counter",
     "a": {"a": 3, "b": 1}, "b": {"a": 2, "b": 4}, "expect": {"a": 3, "b": 4}},
    {"name": "disjoint-union", "description": "entries of either side are kept",
     "a": {"a": 1}, "b": {"c": 2}, "expect": {"a": 1, "c": 2}},
    {"name": "empty-is-identity", "description": "merging the empty clock changes nothing",
     "a": {"a": 7, "server": 3}, "b": {}, "expect": {"a": 7, "server": 3}},
    {"name": "self-merge-idempotent", "description": "merging a clock with itself gives itself",
     "a": {"a": 2, "b": 2}, "b": {"a": 2, "b": 2}, "expect": {"a": 2, "b": 2}},
    {"name": "three-replicas-interleaved", "description": "sorted interleaving of three replicas",
     "a": {"a": 1, "c": 5}, "b": {"b": 2, "c": 4, "server": 1}, "expect": {"a": 1, "b": 2, "c": 5, "server": 1}},
])

add("vector-clock/contains.json", "clock_contains", "contains(clock, dot): the dot is in the clock's history", [
    {"name": "dot-below-entry", "description": "a counter at or below the entry is contained",
     "clock": {"a": 3}, "dot": {"replica": "a", "counter": 3}, "expect": True},
    {"name": "dot-above-entry", "description": "a counter above the entry is not contained",
     "clock": {"a": 3}, "dot": {"replica": "a", "counter": 4}, "expect": False},
    {"name": "unknown-replica", "description": "a replica with no entry has seen nothing",
     "clock": {"a": 3}, "dot": {"replica": "b", "counter": 1}, "expect": False},
    {"name": "first-dot", "description": "the first dot is contained once recorded",
     "clock": {"a": 1, "b": 9}, "dot": {"replica": "a", "counter": 1}, "expect": True},
])

add("vector-clock/increment.json", "clock_increment", "increment(clock, replica): the next dot of that replica", [
    {"name": "first-event", "description": "a replica's first event gets counter 1",
     "clock": {}, "replica": "a", "expect_dot": {"replica": "a", "counter": 1}, "expect": {"a": 1}},
    {"name": "next-event", "description": "the counter goes up by one; other entries stay",
     "clock": {"a": 4, "b": 2}, "replica": "b", "expect_dot": {"replica": "b", "counter": 3},
     "expect": {"a": 4, "b": 3}},
])

# MARK: - Hybrid logical clocks

add("hybrid-clock/send.json", "hlc_send", "send(last, now): stamping a local event", [
    {"name": "wall-clock-ahead", "description": "a later wall clock restarts the logical counter",
     "last": t(0, 3), "now": ms(1), "expect": t(1, 0)},
    {"name": "wall-clock-behind", "description": "a wall clock that went back keeps the last wall time, logical+1",
     "last": t(5, 0), "now": ms(4), "expect": t(5, 1)},
    {"name": "same-millisecond", "description": "two events in one millisecond differ by the logical counter",
     "last": t(2, 7), "now": ms(2), "expect": t(2, 8)},
])

add("hybrid-clock/receive.json", "hlc_receive",
    "receive(last, remote, now, max_ahead_ms): taking in a remote stamp, with the skew bound", [
    {"name": "remote-ahead-within-bound", "description": "remote wall time leads: take it, logical+1",
     "last": t(0, 0), "remote": t(0, 4, 30), "now": ms(0, 10), "max_ahead_ms": 60000, "expect": t(0, 5, 30)},
    {"name": "remote-behind", "description": "the local wall clock leads: logical restarts at 0",
     "last": t(0, 2), "remote": t(0, 9), "now": ms(3), "max_ahead_ms": 60000, "expect": t(3, 0)},
    {"name": "all-equal-walls", "description": "equal wall times: max of both logical counters + 1",
     "last": t(3, 4), "remote": t(3, 6), "now": ms(3), "max_ahead_ms": 60000, "expect": t(3, 7)},
    {"name": "last-leads", "description": "the last stamp leads both: its logical + 1",
     "last": t(8, 2), "remote": t(7, 9), "now": ms(6), "max_ahead_ms": 60000, "expect": t(8, 3)},
    {"name": "exactly-at-bound", "description": "a remote exactly max_ahead ahead is accepted",
     "last": t(0, 0), "remote": t(1, 0), "now": ms(0), "max_ahead_ms": 60000, "expect": t(1, 1)},
    {"name": "beyond-bound", "description": "61 s ahead with a 60 s bound is refused, saying by how much",
     "last": t(0, 0), "remote": t(1, 0, 1), "now": ms(0), "max_ahead_ms": 60000,
     "expect_error": {"ahead_by_ms": 61000}},
    {"name": "a-year-ahead", "description": "a laptop clock a year ahead is refused",
     "last": t(0, 0), "remote": "2027-11-23T10:00:00.000Z/0", "now": ms(0), "max_ahead_ms": 60000,
     "expect_error": {"ahead_by_ms": 31536000000}},
    {"name": "configurable-bound", "description": "a 5 s bound refuses 6 s",
     "last": t(0, 0), "remote": t(0, 0, 6), "now": ms(0), "max_ahead_ms": 5000,
     "expect_error": {"ahead_by_ms": 6000}},
    {"name": "far-behind-is-fine", "description": "a remote far in the past is never refused",
     "last": t(9, 0), "remote": "2020-01-01T00:00:00.000Z/3", "now": ms(9), "max_ahead_ms": 60000,
     "expect": t(9, 1)},
])

# MARK: - Merge rules

ACC = "acc-1"
CREATE_ACC = change("a:1", {}, t(1), "account", ACC, "create",
                    {"name": "Acme GmbH", "territory": "north", "owner": "alice"})

lww = [
    merge_case("sequential-later-replaces", "each write saw the previous one: the last replaces",
               "account", ACC, [
                   step(CREATE_ACC),
                   step(change("a:2", {"a": 1}, t(2), "account", ACC, "set", {"phone": "111"})),
                   step(change("a:3", {"a": 2}, t(3), "account", ACC, "set", {"phone": "222"})),
               ], {"name": "Acme GmbH", "territory": "north", "owner": "alice", "phone": "222"}),
    merge_case("causality-beats-wall-clock", "a causally later write wins even with an older hybrid timestamp",
               "account", ACC, [
                   step(CREATE_ACC),
                   step(change("b:1", {"a": 1}, t(10), "account", ACC, "set", {"phone": "from-b"})),
                   step(change("a:2", {"a": 1, "b": 1}, t(5), "account", ACC, "set", {"phone": "from-a"})),
               ], {"name": "Acme GmbH", "territory": "north", "owner": "alice", "phone": "from-a"}),
    merge_case("concurrent-same-field-later-stamp-wins", "concurrent writes: the later stamp shows, the other is kept",
               "account", ACC, [
                   step(CREATE_ACC),
                   step(change("a:2", {"a": 1}, t(2), "account", ACC, "set", {"phone": "from-a"})),
                   step(change("b:1", {"a": 1}, t(3), "account", ACC, "set", {"phone": "from-b"})),
               ], {"name": "Acme GmbH", "territory": "north", "owner": "alice", "phone": "from-b"},
               conflicts=[("phone", "b:1", "a:2")]),
    merge_case("concurrent-equal-values-are-no-conflict",
               "two replicas write the same value concurrently: both writes stay, nothing is flagged for review",
               "account", ACC, [
                   step(CREATE_ACC),
                   step(change("a:2", {"a": 1}, t(2), "account", ACC, "set", {"phone": "+49 30 1"})),
                   step(change("b:1", {"a": 1}, t(3), "account", ACC, "set", {"phone": "+49 30 1"})),
               ], {"name": "Acme GmbH", "territory": "north", "owner": "alice", "phone": "+49 30 1"}),
    merge_case("concurrent-equal-values-beside-a-different-one",
               "three concurrent writes, two of them equal: only the different value is a conflict",
               "account", ACC, [
                   step(CREATE_ACC),
                   step(change("a:2", {"a": 1}, t(2), "account", ACC, "set", {"phone": "from-a"})),
                   step(change("b:1", {"a": 1}, t(3), "account", ACC, "set", {"phone": "from-bc"})),
                   step(change("c:1", {"a": 1}, t(4), "account", ACC, "set", {"phone": "from-bc"})),
               ], {"name": "Acme GmbH", "territory": "north", "owner": "alice", "phone": "from-bc"},
               conflicts=[("phone", "c:1", "a:2")]),
    merge_case("equal-stamps-larger-replica-wins", "equal hybrid timestamps: the larger replica id wins",
               "account", ACC, [
                   step(CREATE_ACC),
                   step(change("b:1", {"a": 1}, t(2), "account", ACC, "set", {"phone": "from-b"})),
                   step(change("a:2", {"a": 1}, t(2), "account", ACC, "set", {"phone": "from-a"})),
               ], {"name": "Acme GmbH", "territory": "north", "owner": "alice", "phone": "from-b"},
               conflicts=[("phone", "b:1", "a:2")]),
    merge_case("concurrent-different-fields-both-survive", "concurrent edits of different fields both survive",
               "account", ACC, [
                   step(CREATE_ACC),
                   step(change("a:2", {"a": 1}, t(2), "account", ACC, "set", {"phone": "111"})),
                   step(change("b:1", {"a": 1}, t(3), "account", ACC, "set", {"website": "acme.example"})),
               ], {"name": "Acme GmbH", "territory": "north", "owner": "alice", "phone": "111",
                   "website": "acme.example"}),
    merge_case("duplicate-change-is-idempotent", "the same change applied twice is a duplicate",
               "account", ACC, [
                   step(CREATE_ACC),
                   step(change("a:2", {"a": 1}, t(2), "account", ACC, "set", {"phone": "111"})),
                   step(change("a:2", {"a": 1}, t(2), "account", ACC, "set", {"phone": "111"}), "duplicate"),
               ], {"name": "Acme GmbH", "territory": "north", "owner": "alice", "phone": "111"}),
    merge_case("reordered-earlier-arrives-late", "an earlier write arriving after the one that replaced it is superseded",
               "account", ACC, [
                   step(change("a:2", {"a": 1}, t(2), "account", ACC, "set", {"name": "Acme AG"})),
                   step(CREATE_ACC, "applied"),
               ], {"name": "Acme AG", "territory": "north", "owner": "alice"}),
    merge_case("resolution-closes-conflict", "a write that saw both sides replaces them and closes the conflict",
               "account", ACC, [
                   step(CREATE_ACC),
                   step(change("a:2", {"a": 1}, t(2), "account", ACC, "set", {"phone": "from-a"})),
                   step(change("b:1", {"a": 1}, t(3), "account", ACC, "set", {"phone": "from-b"})),
                   step(change("a:3", {"a": 2, "b": 1}, t(4), "account", ACC, "set", {"phone": "chosen"})),
               ], {"name": "Acme GmbH", "territory": "north", "owner": "alice", "phone": "chosen"}),
    merge_case("three-way-concurrent", "three concurrent writes: one winner, two kept losers",
               "account", ACC, [
                   step(CREATE_ACC),
                   step(change("a:2", {"a": 1}, t(2), "account", ACC, "set", {"phone": "from-a"})),
                   step(change("b:1", {"a": 1}, t(4), "account", ACC, "set", {"phone": "from-b"})),
                   step(change("c:1", {"a": 1}, t(3), "account", ACC, "set", {"phone": "from-c"})),
               ], {"name": "Acme GmbH", "territory": "north", "owner": "alice", "phone": "from-b"},
               conflicts=[("phone", "b:1", "a:2"), ("phone", "b:1", "c:1")]),
    merge_case("partial-supersede", "c saw a's write only: a's value goes, b and c stay in conflict",
               "account", ACC, [
                   step(CREATE_ACC),
                   step(change("a:2", {"a": 1}, t(2), "account", ACC, "set", {"phone": "from-a"})),
                   step(change("b:1", {"a": 1}, t(3), "account", ACC, "set", {"phone": "from-b"})),
                   step(change("c:1", {"a": 2}, t(1, 5), "account", ACC, "set", {"phone": "from-c"})),
               ], {"name": "Acme GmbH", "territory": "north", "owner": "alice", "phone": "from-b"},
               conflicts=[("phone", "b:1", "c:1")]),
    merge_case("null-clears-field", "setting null clears a field", "account", ACC, [
        step(CREATE_ACC),
        step(change("a:2", {"a": 1}, t(2), "account", ACC, "set", {"phone": "111"})),
        step(change("a:3", {"a": 2}, t(3), "account", ACC, "set", {"phone": None})),
    ], {"name": "Acme GmbH", "territory": "north", "owner": "alice"}),
    merge_case("unknown-field-kept", "a field this build does not know is merged last-writer-wins and kept",
               "account", ACC, [
                   step(CREATE_ACC),
                   step(change("server:1", {"a": 1}, t(2), "account", ACC, "set", {"loyalty_tier": "gold"})),
               ], {"name": "Acme GmbH", "territory": "north", "owner": "alice", "loyalty_tier": "gold"}),
    merge_case("conflict-loser-reapplied", "re-applying the losing change keeps the conflict and is a duplicate",
               "account", ACC, [
                   step(CREATE_ACC),
                   step(change("a:2", {"a": 1}, t(2), "account", ACC, "set", {"phone": "from-a"})),
                   step(change("b:1", {"a": 1}, t(3), "account", ACC, "set", {"phone": "from-b"})),
                   step(change("a:2", {"a": 1}, t(2), "account", ACC, "set", {"phone": "from-a"}), "duplicate"),
               ], {"name": "Acme GmbH", "territory": "north", "owner": "alice", "phone": "from-b"},
               conflicts=[("phone", "b:1", "a:2")]),
    merge_case("concurrent-multi-field-sets", "two sets of two fields, one field shared: only it conflicts",
               "contact", "con-1", [
                   step(change("a:1", {}, t(1), "contact", "con-1", "create",
                               {"account_id": ACC, "first_name": "Ada", "last_name": "Lovelace"})),
                   step(change("a:2", {"a": 1}, t(2), "contact", "con-1", "set", {"title": "CTO", "phone": "1"})),
                   step(change("b:1", {"a": 1}, t(3), "contact", "con-1", "set", {"role": "technical", "phone": "2"})),
               ], {"account_id": ACC, "first_name": "Ada", "last_name": "Lovelace", "title": "CTO",
                   "role": "technical", "phone": "2"},
               conflicts=[("phone", "b:1", "a:2")]),
]
add("merge-rules/last-writer-wins.json", "merge", "per-field last-writer-wins with conflict capture", lww)

TASK = "task-1"
CREATE_TASK = change("a:1", {}, t(1), "task", TASK, "create", {"title": "Send offer", "status": "open"})
DEAL = "deal-1"
CREATE_DEAL = change("a:1", {}, t(1), "deal", DEAL, "create",
                     {"account_id": ACC, "title": "Pumps", "stage": "new", "amount": 1250000, "currency": "EUR"})
DEAL_VALUES = {"account_id": ACC, "title": "Pumps", "amount": 1250000, "currency": "EUR"}
APPT = "appt-1"
APPT_VALUES = {"account_id": ACC, "title": "Demo at the plant", "starts_at": "2026-12-08T09:00:00.000Z",
               "status": "planned"}
CREATE_APPT = change("a:1", {}, t(1), "appointment", APPT, "create", APPT_VALUES)

ordered = [
    merge_case("task-done-beats-open", "concurrent done and open: done wins although open is later",
               "task", TASK, [
                   step(CREATE_TASK),
                   step(change("a:2", {"a": 1}, t(2), "task", TASK, "set", {"status": "done"})),
                   step(change("b:1", {"a": 1}, t(5), "task", TASK, "set", {"status": "open"})),
               ], {"title": "Send offer", "status": "done"}),
    merge_case("task-done-beats-cancelled", "concurrent done and cancelled: done wins",
               "task", TASK, [
                   step(CREATE_TASK),
                   step(change("a:2", {"a": 1}, t(2), "task", TASK, "set", {"status": "cancelled"})),
                   step(change("b:1", {"a": 1}, t(1, 3), "task", TASK, "set", {"status": "done"})),
               ], {"title": "Send offer", "status": "done"}),
    merge_case("task-cancelled-beats-open", "concurrent cancelled and open: cancelled wins",
               "task", TASK, [
                   step(CREATE_TASK),
                   step(change("a:2", {"a": 1}, t(2), "task", TASK, "set", {"status": "cancelled"})),
                   step(change("b:1", {"a": 1}, t(3), "task", TASK, "set", {"status": "open"})),
               ], {"title": "Send offer", "status": "cancelled"}),
    merge_case("task-reopen-causally-later", "a reopen that saw the done wins: causality first",
               "task", TASK, [
                   step(CREATE_TASK),
                   step(change("a:2", {"a": 1}, t(2), "task", TASK, "set", {"status": "done"})),
                   step(change("b:1", {"a": 2}, t(3), "task", TASK, "set", {"status": "open"})),
               ], {"title": "Send offer", "status": "open"}),
    merge_case("task-done-and-title-edit", "one completes the task, the other edits its title: both survive",
               "task", TASK, [
                   step(CREATE_TASK),
                   step(change("a:2", {"a": 1}, t(2), "task", TASK, "set", {"status": "done"})),
                   step(change("b:1", {"a": 1}, t(3), "task", TASK, "set", {"title": "Send revised offer"})),
               ], {"title": "Send revised offer", "status": "done"}),
    merge_case("deal-furthest-stage-wins", "concurrent stages: the furthest wins whatever the stamps",
               "deal", DEAL, [
                   step(CREATE_DEAL),
                   step(change("a:2", {"a": 1}, t(2), "deal", DEAL, "set", {"stage": "negotiation"})),
                   step(change("b:1", {"a": 1}, t(6), "deal", DEAL, "set", {"stage": "contacted"})),
               ], dict(DEAL_VALUES, stage="negotiation")),
    merge_case("deal-won-vs-lost-conflict", "concurrent won and lost: a conflict for a person; later stamp shows",
               "deal", DEAL, [
                   step(CREATE_DEAL),
                   step(change("a:2", {"a": 1}, t(4), "deal", DEAL, "set", {"stage": "won"})),
                   step(change("b:1", {"a": 1}, t(5), "deal", DEAL, "set", {"stage": "lost"})),
               ], dict(DEAL_VALUES, stage="lost"), conflicts=[("stage", "b:1", "a:2")]),
    merge_case("deal-lost-after-won", "lost that saw won replaces it: no conflict",
               "deal", DEAL, [
                   step(CREATE_DEAL),
                   step(change("a:2", {"a": 1}, t(4), "deal", DEAL, "set", {"stage": "won"})),
                   step(change("b:1", {"a": 2}, t(5), "deal", DEAL, "set", {"stage": "lost"})),
               ], dict(DEAL_VALUES, stage="lost")),
    merge_case("deal-won-vs-contract", "concurrent won and contract: won is further, not a declared conflict",
               "deal", DEAL, [
                   step(CREATE_DEAL),
                   step(change("a:2", {"a": 1}, t(2), "deal", DEAL, "set", {"stage": "won"})),
                   step(change("b:1", {"a": 1}, t(6), "deal", DEAL, "set", {"stage": "contract"})),
               ], dict(DEAL_VALUES, stage="won")),
    merge_case("deal-three-way-only-declared-pair", "contacted, won, lost concurrent: only won/lost is flagged",
               "deal", DEAL, [
                   step(CREATE_DEAL),
                   step(change("a:2", {"a": 1}, t(7), "deal", DEAL, "set", {"stage": "won"})),
                   step(change("b:1", {"a": 1}, t(3), "deal", DEAL, "set", {"stage": "lost"})),
                   step(change("c:1", {"a": 1}, t(9), "deal", DEAL, "set", {"stage": "contacted"})),
               ], dict(DEAL_VALUES, stage="won"), conflicts=[("stage", "a:2", "b:1")]),
    merge_case("deal-stage-and-amount-concurrent", "stage and amount edited concurrently: both survive",
               "deal", DEAL, [
                   step(CREATE_DEAL),
                   step(change("a:2", {"a": 1}, t(2), "deal", DEAL, "set", {"stage": "decision"})),
                   step(change("b:1", {"a": 1}, t(3), "deal", DEAL, "set", {"amount": 990000})),
               ], dict(DEAL_VALUES, stage="decision", amount=990000)),
    merge_case("appointment-done-beats-cancelled", "concurrent done and cancelled: done wins although cancelled is later",
               "appointment", APPT, [
                   step(CREATE_APPT),
                   step(change("a:2", {"a": 1}, t(2), "appointment", APPT, "set", {"status": "done"})),
                   step(change("b:1", {"a": 1}, t(5), "appointment", APPT, "set", {"status": "cancelled"})),
               ], dict(APPT_VALUES, status="done")),
    merge_case("appointment-cancelled-beats-planned", "concurrent cancelled and a move that keeps it planned: "
               "cancelled wins, the new time survives",
               "appointment", APPT, [
                   step(CREATE_APPT),
                   step(change("a:2", {"a": 1}, t(2), "appointment", APPT, "set", {"status": "cancelled"})),
                   step(change("b:1", {"a": 1}, t(3), "appointment", APPT, "set",
                               {"status": "planned", "starts_at": "2026-12-09T09:00:00.000Z"})),
               ], dict(APPT_VALUES, status="cancelled", starts_at="2026-12-09T09:00:00.000Z")),
    merge_case("appointment-replanned-causally-later", "a re-plan that saw the cancel wins: causality first",
               "appointment", APPT, [
                   step(CREATE_APPT),
                   step(change("a:2", {"a": 1}, t(2), "appointment", APPT, "set", {"status": "cancelled"})),
                   step(change("b:1", {"a": 2}, t(3), "appointment", APPT, "set", {"status": "planned"})),
               ], dict(APPT_VALUES, status="planned")),
]
add("merge-rules/ordered-state.json", "merge", "ordered state: causally later wins, then the declared order", ordered)

STOCK = "P-100@main"
CREATE_STOCK = change("server:1", {}, t(0), "stock", STOCK, "create", {"part_number": "P-100", "warehouse": "main"})
RECOUNT_10 = change("server:2", {"server": 1}, t(1), "stock", STOCK, "counter_reset", quantity=10)
STOCK_KEYS = {"part_number": "P-100", "warehouse": "main"}

counter = [
    merge_case("concurrent-sales-add-up", "two reps each sell 3 offline: 6 come off",
               "stock", STOCK, [
                   step(CREATE_STOCK), step(RECOUNT_10),
                   step(change("a:1", {"server": 2}, t(2), "stock", STOCK, "counter_delta", delta=-3)),
                   step(change("b:1", {"server": 2}, t(2), "stock", STOCK, "counter_delta", delta=-3)),
               ], dict(STOCK_KEYS, quantity=4), oversold=False),
    merge_case("duplicate-delta-counts-once", "a delta delivered twice counts once",
               "stock", STOCK, [
                   step(CREATE_STOCK), step(RECOUNT_10),
                   step(change("a:1", {"server": 2}, t(2), "stock", STOCK, "counter_delta", delta=-3)),
                   step(change("a:1", {"server": 2}, t(2), "stock", STOCK, "counter_delta", delta=-3), "duplicate"),
               ], dict(STOCK_KEYS, quantity=7)),
    merge_case("recount-keeps-unseen-deltas", "a recount that had not seen a sale: the sale still counts",
               "stock", STOCK, [
                   step(CREATE_STOCK), step(RECOUNT_10),
                   step(change("a:1", {"server": 2}, t(2), "stock", STOCK, "counter_delta", delta=-3)),
                   step(change("server:3", {"server": 2}, t(3), "stock", STOCK, "counter_reset", quantity=20)),
               ], dict(STOCK_KEYS, quantity=17)),
    merge_case("recount-absorbs-seen-deltas", "a recount that had seen a sale replaces it",
               "stock", STOCK, [
                   step(CREATE_STOCK), step(RECOUNT_10),
                   step(change("a:1", {"server": 2}, t(2), "stock", STOCK, "counter_delta", delta=-3)),
                   step(change("server:3", {"server": 2, "a": 1}, t(3), "stock", STOCK, "counter_reset", quantity=20)),
               ], dict(STOCK_KEYS, quantity=20)),
    merge_case("recount-before-seen-delta", "a recount arriving before a sale it had seen: the sale is not added",
               "stock", STOCK, [
                   step(CREATE_STOCK), step(RECOUNT_10),
                   step(change("server:3", {"server": 2, "a": 1}, t(3), "stock", STOCK, "counter_reset", quantity=20)),
                   step(change("a:1", {"server": 2}, t(2), "stock", STOCK, "counter_delta", delta=-3)),
               ], dict(STOCK_KEYS, quantity=20)),
    merge_case("oversold-is-flagged", "selling more than there is goes below zero and is flagged",
               "stock", STOCK, [
                   step(CREATE_STOCK),
                   step(change("server:2", {"server": 1}, t(1), "stock", STOCK, "counter_reset", quantity=2)),
                   step(change("a:1", {"server": 2}, t(2), "stock", STOCK, "counter_delta", delta=-2)),
                   step(change("b:1", {"server": 2}, t(2), "stock", STOCK, "counter_delta", delta=-1)),
               ], dict(STOCK_KEYS, quantity=-1), oversold=True),
    merge_case("replica-recount-rejected", "a replica may not recount stock", "stock", STOCK, [
        step(CREATE_STOCK), step(RECOUNT_10),
        step(change("a:1", {"server": 2}, t(2), "stock", STOCK, "counter_reset", quantity=99),
             "rejected:server_owned", "replica"),
    ], dict(STOCK_KEYS, quantity=10)),
    merge_case("sell-and-return", "a sale and a return on one laptop net out",
               "stock", STOCK, [
                   step(CREATE_STOCK), step(RECOUNT_10),
                   step(change("a:1", {"server": 2}, t(2), "stock", STOCK, "counter_delta", delta=-5)),
                   step(change("a:2", {"server": 2, "a": 1}, t(3), "stock", STOCK, "counter_delta", delta=2)),
               ], dict(STOCK_KEYS, quantity=7)),
    merge_case("concurrent-recounts", "two concurrent recounts: the later stamp is the base, its unseen sales count",
               "stock", STOCK, [
                   step(CREATE_STOCK), step(RECOUNT_10),
                   step(change("a:1", {"server": 2}, t(2), "stock", STOCK, "counter_delta", delta=-1)),
                   step(change("b:1", {"server": 2}, t(2), "stock", STOCK, "counter_delta", delta=-2)),
                   step(change("server:3", {"server": 2, "a": 1}, t(4), "stock", STOCK, "counter_reset", quantity=30)),
                   step(change("wh2:1", {"server": 2, "b": 1}, t(3), "stock", STOCK, "counter_reset", quantity=40)),
               ], dict(STOCK_KEYS, quantity=28)),
    merge_case("replica-sale-without-recount", "with no recount the base is 0", "stock", STOCK, [
        step(CREATE_STOCK),
        step(change("a:1", {"server": 1}, t(2), "stock", STOCK, "counter_delta", delta=5)),
    ], dict(STOCK_KEYS, quantity=5)),
]
add("merge-rules/counter.json", "merge", "stock counters: deltas by dot, recounts with context, oversold", counter)

ACT = "act-1"
CALL = {"account_id": ACC, "kind": "call", "subject": "Price check", "occurred_at": "2026-11-23T09:30:00.000Z"}
append_cases = [
    merge_case("append-creates", "an append creates the immutable record", "activity", ACT, [
        step(change("a:1", {}, t(1), "activity", ACT, "append", CALL), authority="replica"),
    ], CALL),
    merge_case("append-duplicated", "the same append twice is kept once", "activity", ACT, [
        step(change("a:1", {}, t(1), "activity", ACT, "append", CALL)),
        step(change("a:1", {}, t(1), "activity", ACT, "append", CALL), "duplicate"),
    ], CALL),
    merge_case("update-rejected", "an update of an activity is rejected", "activity", ACT, [
        step(change("a:1", {}, t(1), "activity", ACT, "append", CALL)),
        step(change("b:1", {"a": 1}, t(2), "activity", ACT, "set", {"subject": "changed"}), "rejected:immutable_record"),
    ], CALL),
    merge_case("delete-rejected", "a delete of an activity is rejected, even by the server", "activity", ACT, [
        step(change("a:1", {}, t(1), "activity", ACT, "append", CALL)),
        step(change("server:1", {"a": 1}, t(2), "activity", ACT, "delete"), "rejected:immutable_record"),
    ], CALL),
    merge_case("create-is-not-append", "activities are appended, not created", "activity", ACT, [
        step(change("a:1", {}, t(1), "activity", ACT, "create", CALL), "rejected:unsupported_operation"),
    ], {}),
    merge_case("id-collision-earlier-kept", "two appends with one id: the earlier stays, the later is superseded",
               "activity", ACT, [
                   step(change("a:1", {}, t(1), "activity", ACT, "append", CALL)),
                   step(change("b:1", {}, t(2), "activity", ACT, "append", dict(CALL, subject="Other")),
                        "superseded"),
               ], CALL),
]
add("merge-rules/append-only.json", "merge", "append-only activities: created once, never updated or lost",
    append_cases)

PROD = "P-100"
CREATE_PROD = change("server:1", {}, t(0), "product", PROD, "create",
                     {"part_number": "P-100", "name": "Pump", "price_list": 19900, "currency": "EUR"})
PROD_VALUES = {"part_number": "P-100", "name": "Pump", "price_list": 19900, "currency": "EUR"}
owned = [
    merge_case("replica-price-change-rejected", "a replica cannot change a catalog price", "product", PROD, [
        step(CREATE_PROD),
        step(change("a:1", {"server": 1}, t(1), "product", PROD, "set", {"price_list": 1}),
             "rejected:server_owned", "replica"),
    ], PROD_VALUES),
    merge_case("server-price-change-applies", "the server's catalog import changes a price", "product", PROD, [
        step(CREATE_PROD),
        step(change("server:2", {"server": 1}, t(1), "product", PROD, "set", {"price_list": 18900})),
    ], dict(PROD_VALUES, price_list=18900)),
    merge_case("replica-payment-standing-rejected", "payment standing is the server's", "account", ACC, [
        step(CREATE_ACC),
        step(change("a:2", {"a": 1}, t(2), "account", ACC, "set", {"payment_standing": "strict"}),
             "rejected:server_owned", "replica"),
    ], {"name": "Acme GmbH", "territory": "north", "owner": "alice"}),
    merge_case("replica-territory-after-create-rejected", "territory changes only through admins after creation",
               "account", ACC, [
                   step(CREATE_ACC, authority="replica"),
                   step(change("a:2", {"a": 1}, t(2), "account", ACC, "set", {"territory": "south"}),
                        "rejected:server_owned", "replica"),
               ], {"name": "Acme GmbH", "territory": "north", "owner": "alice"}),
    merge_case("server-moves-territory", "an admin moves the account", "account", ACC, [
        step(CREATE_ACC, authority="replica"),
        step(change("server:1", {"a": 1}, t(2), "account", ACC, "set", {"territory": "south"})),
    ], {"name": "Acme GmbH", "territory": "south", "owner": "alice"}),
    merge_case("replica-invoice-rejected", "invoices come from accounting only", "invoice", "inv-1", [
        step(change("a:1", {}, t(1), "invoice", "inv-1", "create",
                    {"account_id": ACC, "number": "R-1", "amount": 100}), "rejected:server_owned", "replica"),
    ], {}),
    merge_case("replica-stock-key-rejected", "a replica may move stock but not rename it", "stock", STOCK, [
        step(CREATE_STOCK),
        step(change("a:1", {"server": 1}, t(1), "stock", STOCK, "set", {"warehouse": "van"}),
             "rejected:server_owned", "replica"),
    ], dict(STOCK_KEYS, quantity=0)),
    merge_case("mixed-set-rejected-whole", "one server-owned field rejects the whole change; nothing half-applied",
               "account", ACC, [
                   step(CREATE_ACC),
                   step(change("a:2", {"a": 1}, t(2), "account", ACC, "set",
                               {"phone": "111", "owner": "mallory"}), "rejected:server_owned", "replica"),
               ], {"name": "Acme GmbH", "territory": "north", "owner": "alice"}),
    merge_case("replica-product-delete-rejected", "a replica cannot delete a product", "product", PROD, [
        step(CREATE_PROD),
        step(change("a:1", {"server": 1}, t(1), "product", PROD, "delete"), "rejected:server_owned", "replica"),
    ], PROD_VALUES),
]
add("merge-rules/server-owned.json", "merge", "server-owned entities and fields", owned)

deletes = [
    merge_case("delete-after-create", "a delete that saw everything deletes", "account", ACC, [
        step(CREATE_ACC),
        step(change("a:2", {"a": 1}, t(2), "account", ACC, "delete")),
    ], {"name": "Acme GmbH", "territory": "north", "owner": "alice"}, deleted=True),
    merge_case("edit-concurrent-with-delete-wins", "an edit concurrent with a delete keeps the record",
               "account", ACC, [
                   step(CREATE_ACC),
                   step(change("a:2", {"a": 1}, t(2), "account", ACC, "delete")),
                   step(change("b:1", {"a": 1}, t(1, 5), "account", ACC, "set", {"phone": "111"})),
               ], {"name": "Acme GmbH", "territory": "north", "owner": "alice", "phone": "111"}),
    merge_case("edit-seen-by-delete", "a delete that saw the edit deletes", "account", ACC, [
        step(CREATE_ACC),
        step(change("b:1", {"a": 1}, t(2), "account", ACC, "set", {"phone": "111"})),
        step(change("a:2", {"a": 1, "b": 1}, t(3), "account", ACC, "delete")),
    ], {"name": "Acme GmbH", "territory": "north", "owner": "alice", "phone": "111"}, deleted=True),
    merge_case("delete-duplicated", "a delete applied twice", "account", ACC, [
        step(CREATE_ACC),
        step(change("a:2", {"a": 1}, t(2), "account", ACC, "delete")),
        step(change("a:2", {"a": 1}, t(2), "account", ACC, "delete"), "duplicate"),
    ], {"name": "Acme GmbH", "territory": "north", "owner": "alice"}, deleted=True),
    merge_case("delete-before-create-arrives", "a delete arriving before the create it saw", "account", ACC, [
        step(change("a:2", {"a": 1}, t(2), "account", ACC, "delete")),
        step(CREATE_ACC),
    ], {"name": "Acme GmbH", "territory": "north", "owner": "alice"}, deleted=True),
    merge_case("concurrent-deletes-union", "two deletes, each after a different edit, delete together",
               "account", ACC, [
                   step(CREATE_ACC),
                   step(change("a:2", {"a": 1}, t(2), "account", ACC, "set", {"phone": "111"})),
                   step(change("b:1", {"a": 1}, t(2), "account", ACC, "set", {"website": "acme.example"})),
                   step(change("a:3", {"a": 2}, t(3), "account", ACC, "delete")),
                   step(change("b:2", {"a": 1, "b": 1}, t(3), "account", ACC, "delete")),
               ], {"name": "Acme GmbH", "territory": "north", "owner": "alice", "phone": "111",
                   "website": "acme.example"}, deleted=True),
    merge_case("edit-after-delete-revives", "an edit made after seeing the delete brings the record back",
               "contact", "con-1", [
                   step(change("a:1", {}, t(1), "contact", "con-1", "create", {"account_id": ACC, "last_name": "Li"})),
                   step(change("a:2", {"a": 1}, t(2), "contact", "con-1", "delete")),
                   step(change("b:1", {"a": 2}, t(3), "contact", "con-1", "set", {"email": "li@example.com"})),
               ], {"account_id": ACC, "last_name": "Li", "email": "li@example.com"}),
    merge_case("task-delete-vs-complete", "a task deleted while another rep completed it stays, done",
               "task", TASK, [
                   step(CREATE_TASK),
                   step(change("a:2", {"a": 1}, t(2), "task", TASK, "delete")),
                   step(change("b:1", {"a": 1}, t(2), "task", TASK, "set", {"status": "done"})),
               ], {"title": "Send offer", "status": "done"}),
]
add("merge-rules/delete-vs-update.json", "merge", "tombstones and an edit concurrent with a delete", deletes)

# MARK: - Validation

def validate_case(name, description, authority, c, expect):
    return {"name": name, "description": description, "authority": authority, "change": c, "expect": expect}

validation = [
    validate_case("valid-account-create", "a rep creates an account in their territory", "replica",
                  CREATE_ACC, None),
    validate_case("unknown-field", "a field the schema does not have", "replica",
                  change("a:2", {"a": 1}, t(2), "account", ACC, "set", {"shoe_size": "42"}), "unknown_field"),
    validate_case("bad-enum", "a value outside the enumeration", "replica",
                  change("a:2", {"a": 1}, t(2), "contact", "con-1", "set", {"role": "boss"}), "invalid_value"),
    validate_case("bad-timestamp", "occurred_at must be ISO 8601 UTC", "replica",
                  change("a:1", {}, t(1), "activity", ACT, "append", dict(CALL, occurred_at="yesterday")),
                  "invalid_value"),
    validate_case("decimal-string-money", "money on the wire is an integer of minor units, not a decimal string",
                  "replica", change("a:2", {"a": 1}, t(2), "deal", DEAL, "set", {"amount": "12.50"}), "invalid_value"),
    validate_case("text-too-long", "a text longer than its max_bytes in schema.json", "replica",
                  change("a:2", {"a": 1}, t(2), "account", ACC, "set", {"phone": "1" * 65}), "invalid_value"),
    validate_case("new-account-needs-territory", "a new account names its territory", "replica",
                  change("a:1", {}, t(1), "account", "acc-7", "create", {"name": "Newco"}), "missing_field"),
    validate_case("task-needs-status", "a new task names its status", "replica",
                  change("a:1", {}, t(1), "task", "task-7", "create", {"title": "Call back"}), "missing_field"),
    validate_case("missing-required", "a new deal without a title", "replica",
                  change("a:1", {}, t(1), "deal", DEAL, "create", {"account_id": ACC, "stage": "new"}),
                  "missing_field"),
    validate_case("required-cannot-be-cleared", "setting a required field to null", "replica",
                  change("a:2", {"a": 1}, t(2), "account", ACC, "set", {"name": None}), "missing_field"),
    validate_case("bad-currency", "currency must be three upper-case letters", "replica",
                  change("a:2", {"a": 1}, t(2), "deal", DEAL, "set", {"currency": "euro"}), "invalid_value"),
    validate_case("negative-price", "prices cannot be negative, even from the server", "server",
                  change("server:2", {"server": 1}, t(2), "product", PROD, "set", {"price_list": -5}),
                  "invalid_value"),
    validate_case("zero-delta", "a stock movement of 0", "replica",
                  change("a:1", {}, t(1), "stock", STOCK, "counter_delta", delta=0), "invalid_value"),
    validate_case("unknown-entity", "an entity that does not exist", "replica",
                  change("a:1", {}, t(1), "spaceship", "s-1", "create", {"name": "x"}), "unknown_entity"),
    validate_case("money-as-string-rejected", "amount must be an integer of minor units", "replica",
                  change("a:2", {"a": 1}, t(2), "deal", DEAL, "set", {"amount": "12.50"}), "invalid_value"),
    validate_case("valid-stock-sale", "a rep sells stock", "replica",
                  change("a:1", {"server": 2}, t(2), "stock", STOCK, "counter_delta", delta=-3), None),
    validate_case("valid-expected-close", "expected_close is a date", "replica",
                  change("a:2", {"a": 1}, t(2), "deal", DEAL, "set", {"expected_close": "2026-12-31"}), None),
    validate_case("bad-date", "February 30th does not exist", "replica",
                  change("a:2", {"a": 1}, t(2), "deal", DEAL, "set", {"expected_close": "2026-02-30"}),
                  "invalid_value"),
]
add("validation/changes.json", "validate", "schema checks on a change before it is made or accepted", validation)

# MARK: - Wire decoding

PUSH_OK = {"protocol_version": 1, "replica_id": "a", "changes": [
    CREATE_ACC,
    change("a:2", {"a": 1}, t(2), "account", ACC, "set", {"phone": "111"}),
    change("a:3", {"a": 2}, t(3), "account", ACC, "delete"),
    change("a:4", {"server": 2}, t(4), "stock", STOCK, "counter_delta", delta=-3),
    change("a:5", {}, t(5), "activity", ACT, "append", CALL),
]}


def wire_case(name, description, message, text, expect_error=None, message_contains=None):
    case = {"name": name, "description": description, "message": message, "json": text}
    if expect_error:
        case["expect_error"] = {"code": expect_error}
        if message_contains:
            case["expect_error"]["message_contains"] = message_contains
    return case


def j(obj):
    return json.dumps(obj, separators=(",", ":"))


def replace_first_change(**kw):
    body = json.loads(j(PUSH_OK))
    body["changes"][0].update(kw)
    return body


def number_in_field(literal):
    """A push whose account create carries `literal`, written as it is, in the field `credit`."""
    return j(replace_first_change(fields={"name": "x", "territory": "north", "credit": 12345})).replace("12345", literal)


wire = [
    wire_case("push-minimal", "a push with no changes", "push_request",
              j({"protocol_version": 1, "replica_id": "a", "changes": []})),
    wire_case("push-every-operation", "a push with create, set, delete, delta and append", "push_request", j(PUSH_OK)),
    wire_case("push-counter-reset", "a recount carries its quantity", "push_request",
              j({"protocol_version": 1, "replica_id": "server", "changes": [RECOUNT_10]})),
    wire_case("pull-response", "a pull page with a change, a scope notice and a cursor", "pull_response",
              j({"protocol_version": 1, "changes": [CREATE_ACC], "removed": [{"entity": "account", "record_id": "acc-9"}],
                 "cursor": "42", "has_more": False})),
    wire_case("push-response", "per-change results", "push_response",
              j({"protocol_version": 1, "server_time": "2026-11-23T10:00:00.000Z", "results": [
                  {"dot": {"replica": "a", "counter": 1}, "status": "accepted"},
                  {"dot": {"replica": "a", "counter": 2}, "status": "rejected",
                   "rejection": {"code": "server_owned", "reason": "account.owner belongs to the server"}}]})),
    wire_case("error-response", "the error body", "error_response",
              j({"error": {"code": "malformed_payload", "message": "changes[0].dot: required key is missing"}})),
    wire_case("unsupported-version", "a message from protocol version 2", "push_request",
              j({"protocol_version": 2, "replica_id": "a", "changes": []}), "unsupported_version", "protocol version 2"),
    wire_case("missing-version", "no protocol_version", "push_request",
              j({"replica_id": "a", "changes": []}), "malformed_payload", "protocol_version"),
    wire_case("not-json", "a body that is not JSON", "push_request", "{not json", "malformed_payload", "not valid JSON"),
    wire_case("float-field-value", "binary floating point in a field value", "push_request",
              j(replace_first_change(fields={"name": "x", "territory": "north", "credit": 12.5})),
              "invalid_value", "changes[0].fields.credit: a number must be an integer literal"),
    wire_case("float-delta", "a fractional stock delta", "push_request",
              j({"protocol_version": 1, "replica_id": "a", "changes": [
                  dict(change("a:4", {}, t(4), "stock", STOCK, "counter_delta"), delta=1.5)]}),
              "invalid_value", "changes[0].delta: a number must be an integer literal"),
    wire_case("integral-fraction", "1500.0 is not an integer literal, although its value is whole", "push_request",
              number_in_field("1500.0"), "invalid_value", "changes[0].fields.credit: a number must be an integer literal"),
    wire_case("exponent", "1e3 is not an integer literal", "push_request",
              number_in_field("1e3"), "invalid_value", "changes[0].fields.credit: a number must be an integer literal"),
    wire_case("negative-zero-fraction", "-0.0 is not an integer literal", "push_request",
              number_in_field("-0.0"), "invalid_value", "changes[0].fields.credit: a number must be an integer literal"),
    wire_case("beyond-int64", "2^63 does not fit a signed 64-bit integer", "push_request",
              number_in_field("9223372036854775808"), "invalid_value",
              "changes[0].fields.credit: a number must be an integer literal"),
    wire_case("huge-exponent", "1E400 is refused like every other non-integer number", "push_request",
              number_in_field("1E400"), "invalid_value", "changes[0].fields.credit: a number must be an integer literal"),
    wire_case("int64-bounds", "the smallest and largest 64-bit integers are accepted", "push_request",
              number_in_field("-9223372036854775808").replace('"name":"x"', '"name":"x","limit":9223372036854775807')),
    wire_case("fractional-dot-counter", "a dot counter with a fraction: the same code and message as in a field",
              "push_request", j(replace_first_change(dot={"replica": "a", "counter": 12345})).replace("12345", "1.0"),
              "invalid_value", "changes[0].dot.counter: a number must be an integer literal"),
    wire_case("fractional-version", "protocol_version 1.0 is refused, not read as 1", "push_request",
              '{"protocol_version":1.0,"replica_id":"a","changes":[]}', "invalid_value",
              "protocol_version: a number must be an integer literal"),
    wire_case("duplicate-key", "the same key twice in one object is refused, never first-wins", "push_request",
              j({"protocol_version": 1, "replica_id": "a", "changes": [
                  dict(change("a:4", {}, t(4), "stock", STOCK, "counter_delta"), delta=-1)]})
              .replace('"delta":-1', '"delta":-1,"delta":-40'),
              "malformed_payload", "changes[0].delta: the key appears twice"),
    wire_case("duplicate-key-escaped", "keys are compared after unescaping", "push_request",
              '{"protocol_version":1,"replica_id":"a","replica\\u005fid":"b","changes":[]}',
              "malformed_payload", "the key appears twice"),
    wire_case("unknown-op", "an operation that does not exist", "push_request",
              j(replace_first_change(op="upsert")), "invalid_value", "unknown op"),
    wire_case("bad-hlc", "an hlc without the logical counter", "push_request",
              j(replace_first_change(hlc="2026-11-23T10:00:00Z")), "malformed_payload", "changes[0].hlc"),
    wire_case("bad-replica-id", "a replica id with a space", "push_request",
              j({"protocol_version": 1, "replica_id": "my laptop", "changes": []}), "malformed_payload", "replica_id"),
    wire_case("dot-counter-zero", "dot counters start at 1", "push_request",
              j(replace_first_change(dot={"replica": "a", "counter": 0})), "malformed_payload",
              "changes[0].dot.counter"),
    wire_case("missing-dot", "a change without its dot", "push_request",
              j({"protocol_version": 1, "replica_id": "a", "changes": [
                  {k: v for k, v in CREATE_ACC.items() if k != "dot"}]}), "malformed_payload", "changes[0].dot"),
    wire_case("empty-set", "a set that names no field", "push_request",
              j(replace_first_change(op="set", fields={})), "malformed_payload", "at least one field"),
    wire_case("changes-not-array", "changes must be an array", "push_request",
              j({"protocol_version": 1, "replica_id": "a", "changes": {}}), "malformed_payload", "changes"),
    wire_case("negative-dot-counter", "a negative counter", "push_request",
              j(replace_first_change(dot={"replica": "a", "counter": -1})), "malformed_payload",
              "changes[0].dot.counter"),
    wire_case("pull-limit-out-of-range", "a pull limit of 0", "pull_request",
              j({"protocol_version": 1, "cursor": None, "limit": 0}), "malformed_payload", "limit"),
    wire_case("context-bad-replica", "a context key that is not a replica id", "push_request",
              j(replace_first_change(context={"not valid!": 1})), "malformed_payload", "changes[0].context"),
]
add("wire/v1/messages.json", "wire_decode", "decoding valid and invalid protocol v1 messages", wire)


def main():
    import sys
    if "--check" in sys.argv:
        stale = []
        for path, body in sorted(files.items()):
            full = os.path.join(ROOT, path)
            expected = json.dumps(body, indent=2, sort_keys=False) + "\n"
            if not os.path.exists(full) or open(full).read() != expected:
                stale.append(path)
        if stale:
            print("out of date (run conformance/tools/make_vectors.py):", ", ".join(stale))
            sys.exit(1)
        print(f"{len(files)} vector files up to date")
        return
    if os.path.isdir(ROOT):
        shutil.rmtree(ROOT)
    total = 0
    for path, body in sorted(files.items()):
        full = os.path.join(ROOT, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            json.dump(body, f, indent=2, sort_keys=False)
            f.write("\n")
        total += len(body["cases"])
    print(f"wrote {len(files)} files, {total} cases")


if __name__ == "__main__":
    main()
