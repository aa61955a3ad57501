#!/usr/bin/env python3
"""Tabulates criterion's medians (target/criterion/**/new/estimates.json) for
BENCHMARKS.md: per group, each benchmark's median, its overhead over the
group's `bare` benchmark, and the ratios the targets are stated in.

Usage: python3 benches/report.py [target/criterion]
"""
import json
import os
import sys
import time

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join("target", "criterion")


def median_ns(group, bench):
    path = os.path.join(root, group, bench, "new", "estimates.json")
    with open(path) as f:
        return json.load(f)["median"]["point_estimate"]


def fmt_ns(ns):
    if ns >= 1000:
        return f"{ns / 1000:.2f} µs"
    return f"{ns:.1f} ns"


def benches(group):
    d = os.path.join(root, group)
    return sorted(b for b in os.listdir(d) if os.path.exists(os.path.join(d, b, "new", "estimates.json")))


order = ["bare", "monitored", "monitored_formatted", "floor_2tsc_1push", "metered", "autometrics", "tracing_json_appender",
         "monitored_no_backtrace", "monitored_backtrace"]
overheads = {}
for group in ["success", "error", "success_2threads", "error_2threads", "error_burst"]:
    if not os.path.isdir(os.path.join(root, group)):
        continue
    names = [b for b in order if b in benches(group)]
    med = {b: median_ns(group, b) for b in names}
    bare = med.get("bare", 0.0)
    over = {b: med[b] - bare for b in names}
    overheads[group] = over
    mon = over.get("monitored", over.get("monitored_no_backtrace"))
    print(f"\n### `{group}` (median per call)\n")
    print("| route | median | overhead over bare | overhead ÷ monitored's |")
    print("| --- | ---: | ---: | ---: |")
    for b in names:
        ratio = "" if b == "bare" or not mon else f"{over[b] / mon:.2f}×"
        oh = "" if b == "bare" else fmt_ns(over[b])
        print(f"| {b} | {fmt_ns(med[b])} | {oh} | {ratio} |")
    if mon and group.startswith("success"):
        checks = []
        if "metered" in over:
            checks.append(f"monitored / metered overhead = {mon / over['metered']:.2f} (target ≤ 0.50)")
        if "tracing_json_appender" in over:
            checks.append(f"tracing / monitored overhead = {over['tracing_json_appender'] / mon:.0f}× (target ≥ 100×)")
        if "floor_2tsc_1push" in over:
            checks.append(f"monitored / floor overhead = {mon / over['floor_2tsc_1push']:.2f} (target ≤ 2)")
        for c in checks:
            print(f"\n- {c}", end="")
        print()
    if mon and group.startswith("error"):
        checks = []
        if "metered" in over:
            checks.append(f"monitored / metered overhead = {mon / over['metered']:.2f} (target ≤ 1.00)")
            if "monitored_formatted" in over:
                checks.append(f"monitored_formatted (not Clone: formatted on the caller) / metered overhead = {over['monitored_formatted'] / over['metered']:.2f}")
        if group == "error_2threads" and overheads.get("error", {}).get("monitored"):
            checks.append(f"monitored, 2 threads / 1 thread = {mon / overheads['error']['monitored']:.2f} (target ≤ 1.20)")
        if "monitored_backtrace" in over:
            checks.append(f"backtraces on / off = {over['monitored_backtrace'] / mon:.2f} (target ≤ 2)")
        for c in checks:
            print(f"\n- {c}", end="")
        print()

paired_path = os.path.join(root, "two_threads_paired.json")
if os.path.exists(paired_path):
    with open(paired_path) as f:
        paired = json.load(f)
    measured_at = paired.pop("measured_at_unix_secs", None)
    when = "" if measured_at is None else time.strftime(", measured %Y-%m-%d %H:%M UTC", time.gmtime(measured_at))
    print(f"\n### `two_threads_paired` (median per call; each round one batch alone, one calling at once with a second caller, one at a random phase of its cycle{when})\n")
    print("| path | route | one thread | two, at once | two, random phase | overhead ÷ one: at once, random phase | second caller calling / in its flush: at once, random phase |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for path, routes in sorted(paired.items(), key=lambda item: item[0] != "success"):
        for route, m in routes.items():
            ratios = ""
            if m.get("at_once_overhead_ratio") is not None:
                ratios = f"{m['at_once_overhead_ratio']:.2f}, {m['random_phase_overhead_ratio']:.2f}"
            shares = (f"{100 * m['at_once_second_calling_share']:.0f} % / {100 * m['at_once_second_flushing_share']:.0f} %, "
                      f"{100 * m['random_phase_second_calling_share']:.0f} % / {100 * m['random_phase_second_flushing_share']:.0f} %")
            print(f"| {path} | {route} | {fmt_ns(m['alone_ns'])} | {fmt_ns(m['at_once_ns'])} | {fmt_ns(m['random_phase_ns'])} | {ratios} | {shares} |")
    mon = paired.get("error", {}).get("monitored", {})
    if mon.get("at_once_overhead_ratio") is not None:
        print(f"\n- error: monitored's overhead, two threads / one = {mon['at_once_overhead_ratio']:.2f} calling at once, "
              f"{mon['random_phase_overhead_ratio']:.2f} at a random phase (medians of rounds; target ≤ 1.20)", end="")
    for path, routes in sorted(paired.items(), key=lambda item: item[0] != "success"):
        for route, m in routes.items():
            if m.get("at_once_full_overlap_rounds"):
                print(f"\n- {path}, {route}, at once: the second caller calling for {100 * m['at_once_median_round_calling_share']:.0f} % "
                      f"of the median round; the {m['at_once_full_overlap_rounds']} rounds with it calling for ≥ 90 % of the batch: "
                      f"overhead ÷ one {m['at_once_full_overlap_overhead_ratio']:.2f}", end="")
    print()

if os.path.isdir(os.path.join(root, "parts")):
    print("\n### `parts` (median per operation)\n")
    print("| part | median |")
    print("| --- | ---: |")
    for b in benches("parts"):
        print(f"| {b} | {fmt_ns(median_ns('parts', b))} |")

for group, what in [("collector", "logs with no size cap"),
                    ("collector_default_retention", "the default rotation and size caps")]:
    if not os.path.isdir(os.path.join(root, group)):
        continue
    print(f"\n### `{group}` (one collector thread, {what}; wall time per execution, flush included)\n")
    print("| benchmark | median per execution | executions/s |")
    print("| --- | ---: | ---: |")
    for b in benches(group):
        ns = median_ns(group, b)
        print(f"| {b} | {fmt_ns(ns)} | {1e9 / ns / 1e6:.2f} M |")

if os.path.isdir(os.path.join(root, "span_layer")):
    names = benches("span_layer")
    med = {b: median_ns("span_layer", b) for b in names}
    ref = med.get("fmt_json_close_appender")
    print("\n### `span_layer` (median per span: create, enter, exit, close)\n")
    print("| subscriber | median per span | ÷ fmt JSON on close |")
    print("| --- | ---: | ---: |")
    order = ["registry_only", "monitor_layer", "fmt_json_close_appender", "fmt_json_no_span_events_appender"]
    for b in [n for n in order if n in med] + [n for n in names if n not in order]:
        ratio = f"{med[b] / ref:.2f}×" if ref else ""
        print(f"| {b} | {fmt_ns(med[b])} | {ratio} |")
    if ref and "monitor_layer" in med:
        print(f"\n- monitor_layer / fmt_json_close_appender = {med['monitor_layer'] / ref:.2f} (target ≤ 0.20)")
    if "monitor_layer" in med and "registry_only" in med:
        print(f"- monitor_layer - registry_only = {fmt_ns(med['monitor_layer'] - med['registry_only'])} per span (target ≤ 120 ns)")
