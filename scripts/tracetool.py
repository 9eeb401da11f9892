#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Generate a folder's trace.h and trace.c from its trace-events file.

usage: tracetool.py --group NAME TRACE-EVENTS [OUT-H [OUT-C]]
       tracetool.py --group NAME --source-only TRACE-EVENTS OUT-C

With no output named, only checks TRACE-EVENTS.

A trace-events file holds one event per line:

    [disable] NAME(TYPE ARG, TYPE ARG, ...) "FORMAT"

FORMAT is a C string, possibly split around inttypes.h macros
("off %" PRIu64 " len %" PRIu32); it has one conversion per argument and
no trailing newline. "NAME(void)" takes no argument. Lines starting with
'#' and blank lines are ignored. "disable" compiles the event out.

trace.h gets, per event, a flag the trace core flips and an inline
trace_NAME() that reads the flag once (relaxed) and, when it is set,
hands the line to trace_log_event(). trace.c defines the flags and
registers the group's table with the trace core from a constructor.

Any malformed line stops the build with "FILE:LINE: error: MESSAGE".
"""
import argparse
import os
import re
import sys

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
PROPERTIES = {"disable"}

# Argument types the generated header can declare with nothing but the
# standard headers: scalars, and pointers (printed with %p or %s).
SCALARS = {
    "bool", "char", "short", "int", "long", "unsigned", "signed",
    "size_t", "ssize_t", "off_t", "pid_t", "uid_t", "gid_t", "mode_t",
    "int8_t", "int16_t", "int32_t", "int64_t",
    "uint8_t", "uint16_t", "uint32_t", "uint64_t",
    "intptr_t", "uintptr_t", "double",
}
TYPE_WORDS = SCALARS | {"void", "const"}
INTEGER_MODIFIERS = {"unsigned", "signed", "short", "long"}


class TraceError(Exception):
    pass


class Event:
    def __init__(self, name, props, args, fmt, lineno):
        self.name = name
        self.props = props
        self.args = args          # [(type, name)]
        self.fmt = fmt            # the C source of the format, as written
        self.lineno = lineno


def parse_type(text):
    """Return the normalized C type, or raise TraceError."""
    t = re.sub(r"\s*\*\s*", " * ", text).split()
    words = [w for w in t if w != "*"]
    if not words:
        raise TraceError(f"missing type in '{text}'")
    for w in words:
        if w not in TYPE_WORDS:
            raise TraceError(f"unsupported argument type '{text}' "
                             f"(use a scalar type, 'const char *' or "
                             f"'void *')")
    stars = t.count("*")
    if stars and t[-1] != "*":
        raise TraceError(f"malformed argument type '{text}'")
    base = [w for w in words if w != "const"]
    if not base:
        raise TraceError(f"malformed argument type '{text}'")
    if base == ["void"] and not stars:
        raise TraceError("'void' is only allowed alone, as NAME(void)")
    if len(base) > 1 and not all(w in INTEGER_MODIFIERS or w in
                                 ("int", "char") for w in base):
        raise TraceError(f"malformed argument type '{text}'")
    if stars > 1:
        raise TraceError(f"argument type '{text}': use 'void *' for "
                         f"pointers to pointers")
    return " ".join(t)


def parse_args(text):
    text = text.strip()
    if text == "void":
        return []
    if not text:
        raise TraceError("empty argument list (write NAME(void))")
    args = []
    seen = set()
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(.*?[\s*])(" + IDENT + r")", part)
        if not m:
            raise TraceError(f"malformed argument '{part}' "
                             f"(expected 'TYPE NAME')")
        ctype = parse_type(m.group(1))
        name = m.group(2)
        if name in TYPE_WORDS:
            raise TraceError(f"argument '{part}' has no name")
        if name in seen:
            raise TraceError(f"argument '{name}' given twice")
        seen.add(name)
        args.append((ctype, name))
    return args


def parse_format(text):
    """Check the format and return (C source, number of conversions)."""
    pos = 0
    pieces = []
    strings = 0
    text = text.strip()
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        if text[pos] == '"':
            m = re.compile(r'"((?:[^"\\]|\\.)*)"').match(text, pos)
            if not m:
                raise TraceError("unterminated format string")
            pieces.append(("str", m.group(1)))
            strings += 1
            pos = m.end()
            continue
        m = re.compile(r"PRI[diouxX](8|16|32|64|PTR|MAX)\b").match(text, pos)
        if m:
            pieces.append(("macro", m.group(0)))
            pos = m.end()
            continue
        raise TraceError(f"unexpected text in format: '{text[pos:]}'")
    if not strings:
        raise TraceError("missing format string")
    if pieces[0][0] != "str":
        raise TraceError("the format must start with a string")
    convs = 0
    for i, (kind, val) in enumerate(pieces):
        if kind == "macro":
            prev = pieces[i - 1]
            if prev[0] != "str" or not re.search(r"(?<!%)%[-+ #0-9.]*$",
                                                 prev[1]):
                raise TraceError(f"'{val}' must follow a '%' in the format")
            continue
        if "\n" in val or val.endswith("\\n"):
            raise TraceError("the format must not end with a newline "
                             "(the trace core adds one)")
        s = val.replace("%%", "")
        convs += s.count("%")
        if re.search(r"%[-+ #0-9.]*(n|m)", s):
            raise TraceError("%n and %m are not allowed in a format")
    return text, convs


def parse_line(line, lineno):
    m = re.fullmatch(r"((?:" + IDENT + r"\s+)*)(" + IDENT +
                     r")\((.*?)\)\s*(.*)", line)
    if not m:
        raise TraceError("expected 'NAME(TYPE ARG, ...) \"FORMAT\"'")
    props = m.group(1).split()
    for p in props:
        if p not in PROPERTIES:
            raise TraceError(f"unknown property '{p}'")
    name = m.group(2)
    args = parse_args(m.group(3))
    if not m.group(4):
        raise TraceError(f"event '{name}' has no format string")
    fmt, convs = parse_format(m.group(4))
    if convs != len(args):
        raise TraceError(f"event '{name}': the format has {convs} "
                         f"conversion(s) for {len(args)} argument(s)")
    return Event(name, props, args, fmt, lineno)


def parse_file(path, group):
    events = []
    names = {}
    with open(path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            try:
                ev = parse_line(line, lineno)
                if ev.name in names:
                    raise TraceError(f"event '{ev.name}' already defined "
                                     f"at line {names[ev.name]}")
                names[ev.name] = lineno
                events.append(ev)
            except TraceError as e:
                raise TraceError(f"{path}:{lineno}: error: {e}") from None
    return events


def c_proto(ev):
    if not ev.args:
        return "void"
    out = []
    for ctype, name in ev.args:
        sep = "" if ctype.endswith("*") else " "
        out.append(f"{ctype}{sep}{name}")
    return ", ".join(out)


def gen_header(events, group, src):
    guard = f"TRACE_{group.upper()}_GENERATED_TRACE_H"
    out = [
        f"/* Generated by scripts/tracetool.py from {src}; do not edit. */",
        f"#ifndef {guard}",
        f"#define {guard}",
        "",
        '#include "qemu/trace-control.h"',
        "",
    ]
    for ev in events:
        if "disable" in ev.props:
            continue
        out.append(f"extern bool trace_dstate_{ev.name};")
    out.append("")
    for ev in events:
        proto = c_proto(ev)
        out.append(f"static inline void trace_{ev.name}({proto})")
        out.append("{")
        if "disable" not in ev.props:
            call_args = "".join(", " + a for _, a in ev.args)
            out.append(f"    if (G_UNLIKELY(qatomic_read("
                       f"&trace_dstate_{ev.name}))) {{")
            out.append(f'        trace_log_event("{ev.name}", {ev.fmt}'
                       f"{call_args});")
            out.append("    }")
        out.append("}")
        out.append("")
    out.append(f"#endif /* {guard} */")
    return "\n".join(out) + "\n"


def gen_source(events, group, src, header_name):
    enabled = [ev for ev in events if "disable" not in ev.props]
    out = [
        f"/* Generated by scripts/tracetool.py from {src}; do not edit. */",
        '#include "qemu/osdep.h"',
        f'#include "{header_name}"',
        "",
    ]
    for ev in enabled:
        out.append(f"bool trace_dstate_{ev.name};")
    out.append("")
    out.append(f"static TraceEvent trace_events_{group}[] = {{")
    for ev in enabled:
        out.append(f'    {{ "{ev.name}", &trace_dstate_{ev.name} }},')
    out.append("    { NULL, NULL },")
    out.append("};")
    out.append("")
    out.append("__attribute__((constructor))")
    out.append(f"static void trace_register_{group}(void)")
    out.append("{")
    out.append(f'    trace_event_register_group("{group}", '
               f"trace_events_{group});")
    out.append("}")
    return "\n".join(out) + "\n"


def write_file(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--group", required=True,
                    help="name of the folder, e.g. nbd")
    ap.add_argument("--header-name",
                    help="how trace.c includes the header "
                         "(default: GROUP/trace.h)")
    ap.add_argument("--source-only", action="store_true",
                    help="the one output named is trace.c")
    ap.add_argument("events", help="the trace-events file")
    ap.add_argument("out_h", nargs="?", help="trace.h to write")
    ap.add_argument("out_c", nargs="?", help="trace.c to write")
    opts = ap.parse_args()
    if opts.source_only:
        opts.out_h, opts.out_c = None, opts.out_h
    if not re.fullmatch(IDENT, opts.group):
        print(f"tracetool: error: bad group name '{opts.group}'",
              file=sys.stderr)
        return 1
    try:
        events = parse_file(opts.events, opts.group)
    except OSError as e:
        print(f"tracetool: error: {e}", file=sys.stderr)
        return 1
    except TraceError as e:
        print(e, file=sys.stderr)
        return 1
    src = os.path.join(opts.group, os.path.basename(opts.events))
    header_name = opts.header_name or f"{opts.group}/trace.h"
    if opts.out_h:
        write_file(opts.out_h, gen_header(events, opts.group, src))
    if opts.out_c:
        write_file(opts.out_c,
                         gen_source(events, opts.group, src, header_name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
