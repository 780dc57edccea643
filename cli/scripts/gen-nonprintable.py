#!/usr/bin/env python3
"""Regenerate src/repr/nonprintable.rs: the code points Python's str.isprintable rejects.

Run from the crate root: python3 scripts/gen-nonprintable.py > src/repr/nonprintable.rs
The printed Python and Unicode versions go into the file header, so a diff shows when the
table came from a different Unicode database.
"""
import sys
import unicodedata

ranges = []
start = None
for cp in range(0x110000):
    nonprintable = not chr(cp).isprintable()
    if nonprintable and start is None:
        start = cp
    if not nonprintable and start is not None:
        ranges.append((start, cp - 1))
        start = None
if start is not None:
    ranges.append((start, 0x10FFFF))

print("//! Generated table: the code points Python's `str.isprintable` rejects.")
print("//!")
print(f"//! Generated with Python {sys.version.split()[0]} by `python3 scripts/gen-nonprintable.py`,")
print("//! which tests `not chr(cp).isprintable()` for every code point `cp` in `0..=0x10FFFF`")
print("//! and merges consecutive hits into inclusive ranges. Do not edit by hand; regenerate")
print("//! when moving to a Python with a newer Unicode database.")
print()
print("/// Sorted, disjoint, inclusive `(first, last)` code point ranges that Python's")
print(f"/// `str.isprintable` treats as non-printable (Unicode {unicodedata.unidata_version}).")
print("pub(super) const NONPRINTABLE: &[(u32, u32)] = &[")
for a, b in ranges:
    print(f"    (0x{a:04X}, 0x{b:04X}),")
print("];")
