#!/usr/bin/env python3
"""Checks the disassembled kernel objects of one build (aarch64, binutils objdump) against a table.

Usage: disasm_check.py OBJDUMP TABLE_FILE OBJECT...

TABLE_FILE (scripts/test_c_kernels.sh writes it from its tables), one entry a line, '#' comments:
  hot FUNCTION NEEDS ALLOWED
      NEEDS: '-' or comma-separated groups; a group is '|'-separated mnemonics (prefixes), at least one of
      which must appear in FUNCTION or in a kernel-local function it calls (directly or not).
      ALLOWED: '-' or comma-separated symbols outside the kernels FUNCTION may call (e.g. memset for a
      zeroing loop the compiler turned into a call outside the hot loop).
  known FUNCTION CALLEE
      a call that FUNCTION's own code makes today and should not (whichever hot function reaches it):
      reported as KNOWN on every run; the check fails when no hot function reaches that call any more,
      so that the line gets deleted.

Calls are bl, blr (indirect) and b to another symbol (a tail call). A call to a function defined in one
of the OBJECTs is kernel-local and allowed; its own calls are followed. Everything else must be in
ALLOWED or a known line. Every hot FUNCTION must exist. Prints one line per check; exit 1 on any FAIL.
"""
import re, subprocess, sys

FUNC = re.compile(r"^([0-9a-f]+) <([^>]+)>:$")
INSN = re.compile(r"^\s+([0-9a-f]+):\s+(\S+)\s*(.*)$")
RELOC = re.compile(r"^\s+([0-9a-f]+):\s+(R_AARCH64_\w+)\s+(\S+)$")
TARGET = re.compile(r"<([^>+]+)(\+0x[0-9a-f]+)?>")


def parse(objdump, path):
    """{function: {"mnemonics": set, "calls": [(kind, target)]}} and {section offset: function}."""
    out = subprocess.run([objdump, "-dr", "--no-show-raw-insn", path], check=True, capture_output=True, text=True).stdout
    funcs, starts, cur, pending = {}, {}, None, None
    for line in out.splitlines():
        m = FUNC.match(line)
        if m:
            cur = m.group(2)
            funcs[cur] = {"mnemonics": set(), "calls": []}
            starts[int(m.group(1), 16)] = cur
            pending = None
            continue
        if cur is None:
            continue
        r = RELOC.match(line)
        if r:
            if pending is not None and r.group(2) in ("R_AARCH64_CALL26", "R_AARCH64_JUMP26"):
                kind = funcs[cur]["calls"][pending][0]
                funcs[cur]["calls"][pending] = (kind, r.group(3), True)
            continue
        i = INSN.match(line)
        if not i:
            continue
        mnem, ops = i.group(2), i.group(3)
        funcs[cur]["mnemonics"].add(mnem)
        pending = None
        if mnem in ("bl", "b", "blr"):
            t = TARGET.search(ops)
            target = "<indirect>" if mnem == "blr" else (t.group(1) if t else ops)
            funcs[cur]["calls"].append((mnem, target, False))
            pending = len(funcs[cur]["calls"]) - 1
    # Unrelocated branches to the function itself are jumps inside it (an unresolved external call,
    # by contrast, also prints as a branch to itself, but carries a relocation naming its target).
    for name, info in funcs.items():
        info["calls"] = [(k, t) for k, t, relocated in info["calls"] if relocated or not (k == "b" and t == name)]
    return funcs, starts


def main():
    objdump, table_path, objects = sys.argv[1], sys.argv[2], sys.argv[3:]
    # (object, name) -> info; global names resolve across objects.
    defs, by_name = {}, {}
    for obj in objects:
        funcs, starts = parse(objdump, obj)
        for name, info in funcs.items():
            # A relocation against the section (".text+0x1a0") names the function starting there.
            resolved = []
            for kind, target in info["calls"]:
                m = re.match(r"^\.text\+0x([0-9a-f]+)$", target)
                if m and int(m.group(1), 16) in starts:
                    target = starts[int(m.group(1), 16)]
                elif target == ".text":
                    target = starts.get(0, target)
                resolved.append((kind, target))
            info["calls"] = resolved
            defs[(obj, name)] = info
            by_name.setdefault(name, []).append(obj)

    def resolve(obj, name):
        if (obj, name) in defs:
            return (obj, name)
        if name in by_name:
            return (by_name[name][0], name)
        return None

    def reach(key):
        """Kernel-local functions reachable from key (itself included), and outside calls [(via, kind, callee)]."""
        seen, stack, outside = [], [key], []
        while stack:
            k = stack.pop()
            if k in seen:
                continue
            seen.append(k)
            for kind, target in defs[k]["calls"]:
                local = None if target == "<indirect>" else resolve(k[0], target)
                if local:
                    stack.append(local)
                else:
                    outside.append((k[1], kind, target))
        return seen, outside

    hot, known = [], []
    with open(table_path) as f:
        for line in f:
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            if fields[0] == "hot" and len(fields) == 4:
                hot.append(fields[1:])
            elif fields[0] == "known" and len(fields) == 3:
                known.append(tuple(fields[1:]))
            else:
                sys.exit("disasm_check.py: bad table line: %s" % line.strip())

    failed = 0

    def report(ok, name, detail):
        nonlocal failed
        failed += not ok
        print("%-4s %-52s %s" % ("ok" if ok else "FAIL", name, detail))

    known_seen = set()
    for fn, needs, allowed in hot:
        key = resolve(None, fn)
        if not key:
            report(False, "disasm/%s" % fn, "not defined in any kernel object (renamed? update the table)")
            continue
        funcs, outside = reach(key)
        allow = set() if allowed == "-" else set(allowed.split(","))
        bad, tolerated = [], []
        for via, kind, callee in outside:
            if callee in allow:
                continue
            if (via, callee) in known:
                known_seen.add((via, callee))
                tolerated.append("%s from %s" % (callee, via))
                continue
            bad.append("%s %s from %s" % (kind, callee, via))
        detail = "; ".join(sorted(set(bad))) if bad else "no calls outside the kernels (%d functions)" % len(funcs)
        if tolerated and not bad:
            detail = "no calls outside the kernels but the KNOWN %s" % ", ".join(sorted(set(tolerated)))
        report(not bad, "disasm/calls/%s" % fn, detail)
        if needs != "-":
            mnems = set().union(*(defs[k]["mnemonics"] for k in funcs))
            missing = [g for g in needs.split(",") if not any(m.startswith(alt) for m in mnems for alt in g.split("|"))]
            report(not missing, "disasm/insns/%s" % fn, "missing " + ", ".join(missing) if missing else "has " + needs)
    for fn, callee in known:
        if (fn, callee) in known_seen:
            print("%-4s %-52s %s" % ("KNOWN", "disasm/calls/%s" % fn, "calls %s in its loop (a known issue, listed in scripts/test_c_kernels.sh)" % callee))
        else:
            report(False, "disasm/known/%s" % fn, "no longer calls %s: delete its known line" % callee)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
