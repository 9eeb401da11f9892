#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Edits fields and tables of a qcow2 image, for the corruption tests.

usage: qcow2-craft.py IMAGE COMMAND ARGS...

  get FIELD                  print a header field (decimal)
  set FIELD VALUE...         set header fields (FIELD VALUE pairs)
  set-l1 INDEX VALUE         set an L1 entry
  set-rt INDEX VALUE         set a refcount table entry
  get-l2 GUEST_OFFSET        print the L2 entry of a guest offset
  set-l2 GUEST_OFFSET VALUE  set the L2 entry of a guest offset
  l2-table GUEST_OFFSET      print the offset of the L2 table it uses
  set-refcount CLUSTER VALUE set the refcount of a host cluster
  host-cluster GUEST_OFFSET  print the host cluster index of its data
  poke OFFSET HEXBYTES       write bytes at a file offset

Numbers may be given in hex (0x...); negative ones are taken modulo 2^64
(what bash arithmetic makes of 0x8000000000000000 | X). Only what the
tests need: 16-bit refcounts for set-refcount.
"""
import struct
import sys

# name: (offset, struct format)
FIELDS = {
    'magic': (0, '>I'), 'version': (4, '>I'),
    'backing_file_offset': (8, '>Q'), 'backing_file_size': (16, '>I'),
    'cluster_bits': (20, '>I'), 'size': (24, '>Q'),
    'crypt_method': (32, '>I'), 'l1_size': (36, '>I'),
    'l1_table_offset': (40, '>Q'), 'refcount_table_offset': (48, '>Q'),
    'refcount_table_clusters': (56, '>I'), 'nb_snapshots': (60, '>I'),
    'snapshots_offset': (64, '>Q'), 'incompatible_features': (72, '>Q'),
    'compatible_features': (80, '>Q'), 'autoclear_features': (88, '>Q'),
    'refcount_order': (96, '>I'), 'header_length': (100, '>I'),
}


def rd(f, off, fmt):
    f.seek(off)
    return struct.unpack(fmt, f.read(struct.calcsize(fmt)))[0]


def wr(f, off, fmt, val):
    f.seek(off)
    f.write(struct.pack(fmt, val))


def l2_entry_pos(f, guest):
    cb = rd(f, 20, '>I')
    l2_bits = cb - 3
    l1_index = guest >> (cb + l2_bits)
    l2_index = (guest >> cb) & ((1 << l2_bits) - 1)
    l1 = rd(f, 40, '>Q')
    l2 = rd(f, l1 + 8 * l1_index, '>Q') & 0x00fffffffffffe00
    if not l2:
        sys.exit('no L2 table for guest offset %d' % guest)
    return l2, l2 + 8 * l2_index


def main():
    path, cmd, raw = sys.argv[1], sys.argv[2], sys.argv[3:]
    def num(a):
        return int(a, 0) & (2 ** 64 - 1)
    if cmd == 'set':
        args = [a if i % 2 == 0 else num(a) for i, a in enumerate(raw)]
    elif cmd in ('get', 'poke'):
        args = raw
    else:
        args = [num(a) for a in raw]
    with open(path, 'r+b') as f:
        if cmd == 'get':
            print(rd(f, *FIELDS[args[0]]))
        elif cmd == 'set':
            for i in range(0, len(args), 2):
                wr(f, *FIELDS[args[i]], args[i + 1])
        elif cmd == 'set-l1':
            wr(f, rd(f, 40, '>Q') + 8 * args[0], '>Q', args[1])
        elif cmd == 'set-rt':
            wr(f, rd(f, 48, '>Q') + 8 * args[0], '>Q', args[1])
        elif cmd == 'get-l2':
            print(rd(f, l2_entry_pos(f, args[0])[1], '>Q'))
        elif cmd == 'set-l2':
            wr(f, l2_entry_pos(f, args[0])[1], '>Q', args[1])
        elif cmd == 'poke':
            f.seek(int(args[0], 0))
            f.write(bytes.fromhex(args[1]))
        elif cmd == 'host-cluster':
            e = rd(f, l2_entry_pos(f, args[0])[1], '>Q')
            print((e & 0x00fffffffffffe00) >> rd(f, 20, '>I'))
        elif cmd == 'l2-table':
            print(l2_entry_pos(f, args[0])[0])
        elif cmd == 'set-refcount':
            cb = rd(f, 20, '>I')
            per_block = (1 << cb) // 2
            rt = rd(f, 48, '>Q')
            block = rd(f, rt + 8 * (args[0] // per_block), '>Q')
            wr(f, block + 2 * (args[0] % per_block), '>H', args[1])
        else:
            sys.exit('unknown command ' + cmd)


if __name__ == '__main__':
    main()
