#!/usr/bin/env python3
"""tests/arm64/loop_counts.py - the instruction counts of docs/benchmarks.md's ARM estimate.

Reads an `aarch64-linux-gnu-objdump -d --no-show-raw-insn` listing of one function (FILE, or
stdin) and prints each loop (a backward branch and its target; innermost only unless ALL=1 in
the environment): instructions per iteration, those that go to the ASIMD/FP pipes (vector or
FP registers, loads and stores left out), the bytes its loads bring, and each mnemonic's count.
A tool for reading code, not a test: nothing here is timed.
"""
import re, sys, collections
lines = [l for l in (open(sys.argv[1]) if len(sys.argv) > 1 else sys.stdin) if re.match(r'\s+[0-9a-f]+:\s', l)]
ins = []
for l in lines:
    m = re.match(r'\s+([0-9a-f]+):\s+(\S+)\s*(.*)', l)
    ins.append((int(m.group(1), 16), m.group(2), m.group(3)))
addr = [a for a, _, _ in ins]
loops = []
for i, (a, op, arg) in enumerate(ins):
    if op.startswith('b') and op not in ('bl', 'blr', 'br'):
        t = re.search(r'\b([0-9a-f]+) <', arg)
        if t and int(t.group(1), 16) <= a:
            loops.append((addr.index(int(t.group(1), 16)), i))
# innermost: no other loop strictly inside
import os
inner = loops if os.environ.get('ALL') else [(s, e) for s, e in loops if not any(s <= s2 and e2 <= e and (s2, e2) != (s, e) for s2, e2 in loops)]
def vbytes(op, arg):
    if not (op.startswith('ld')): return 0
    m = re.match(r'(q|d|s|h|b|x|w)\d+', arg)
    if op in ('ldr', 'ldur') and m: return {'q': 16, 'd': 8, 's': 4, 'h': 2, 'b': 1, 'x': 8, 'w': 4}[m.group(1)]
    if op == 'ldp' and m: return 2 * {'q': 16, 'd': 8, 's': 4, 'x': 8, 'w': 4}.get(m.group(1), 0)
    if op.startswith('ld1') or op.startswith('ld2') or op.startswith('ld4'):
        regs = re.findall(r'v\d+\.(\d*)([bhsd])', arg)
        if not regs: return 0
        n = len(regs)
        if re.search(r'\},\s*\[|\}\s*\[', arg) and '}[' in arg.replace(' ', ''):  # lane load
            return {'b': 1, 'h': 2, 's': 4, 'd': 8}[regs[0][1]] * n
        if op.startswith('ld1r'): return {'b': 1, 'h': 2, 's': 4, 'd': 8}[regs[0][1]]
        return sum(int(c or 1) * {'b': 1, 'h': 2, 's': 4, 'd': 8}[t] for c, t in regs)
    if op == 'ldrb': return 1
    if op == 'ldrh': return 2
    if op in ('ldrsb',): return 1
    return 0
for s, e in inner:
    body = ins[s:e + 1]
    c = collections.Counter(op for _, op, _ in body)
    vec = sum(1 for _, op, arg in body if re.search(r'\bv\d+\.|\bq\d+|\bd\d+|\bs\d+\b|\bh\d+', arg) and not op.startswith('st') and not op.startswith('ld'))
    b = sum(vbytes(op, arg) for _, op, arg in body)
    print('loop %x-%x: %d instr, %d ASIMD/FP (no loads), loads %d B' % (body[0][0], body[-1][0], len(body), vec, b))
    print('   ', ' '.join('%s:%d' % kv for kv in sorted(c.items(), key=lambda kv: -kv[1])))
