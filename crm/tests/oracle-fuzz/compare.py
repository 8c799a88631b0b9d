#!/usr/bin/env python3
"""Compares crm_simulate's text (DIR/summary/T.summary) with ours
(DIR/ours/T.summary, written by the scheduler corpus test with
IRONBEAT_CORPUS_OUT) section by section, whitespace aside.

  compare.py DIR [SHOW]

prints, per section (current, summary, revised), how many cases differ and
the first differing line of the first SHOW (default 8) of them.
"""
import os
import re
import sys

SECTIONS = [
    ("current", "Current cluster status:", ["Transition Summary:"]),
    ("summary", "Transition Summary:", ["Executing Cluster Transition:", "Revised Cluster Status:"]),
    ("revised", "Revised Cluster Status:", []),
]


def section(text, start, ends):
    out, inside = [], False
    for line in text.splitlines():
        if line.startswith(start):
            inside = True
        elif inside and any(line.startswith(e) for e in ends):
            break
        if inside:
            squeezed = re.sub(r"\s", "", line)
            if squeezed:
                out.append(squeezed)
    return out


def main():
    d = sys.argv[1]
    show = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    names = open(os.path.join(d, "SUBSET-core")).read().split()
    differing = {name: [] for name, _, _ in SECTIONS}
    for n in names:
        theirs = open(os.path.join(d, "summary", n + ".summary")).read()
        try:
            ours = open(os.path.join(d, "ours", n + ".summary")).read()
        except OSError:
            differing["current"].append((n, ("(no output of ours)", "")))
            continue
        for name, start, ends in SECTIONS:
            a, b = section(theirs, start, ends), section(ours, start, ends)
            if a != b:
                pad = max(len(a), len(b))
                first = next(((x, y) for x, y in zip(a + [""] * pad, b + [""] * pad) if x != y), None)
                differing[name].append((n, first))
    print("cases", len(names))
    for name, cases in differing.items():
        print(name, "differs in", len(cases))
        for case in cases[:show]:
            print("   ", case)


if __name__ == "__main__":
    main()
