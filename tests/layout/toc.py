#!/usr/bin/python3
"""toc.py -- every subsystem folder under runtime/ and gen/ has one header
whose opening comment is the folder's table of contents ("Table of contents
of DIR/:"), and that table names every .c file of the folder (cmd_<name>.c
stands for the CLI's subcommand files).  Exit 1 naming what is missing."""
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', '..')
bad = 0
for top in ('runtime', 'gen'):
    for d in sorted(os.listdir(os.path.join(root, top))):
        path = os.path.join(root, top, d)
        if not os.path.isdir(path):
            continue
        tocs = []
        for h in sorted(f for f in os.listdir(path) if f.endswith('.h')):
            text = open(os.path.join(path, h), encoding='utf-8').read()
            m = re.search(r'Table of contents of ([^\s:]+):.*?\n(.*?)\*/', text, re.S)
            if m:
                tocs.append((h, m.group(1).rstrip('/'), m.group(2)))
        rel = top + '/' + d
        if len(tocs) != 1:
            print(f'FAIL: {rel}: {len(tocs)} headers with a table of contents, expected 1')
            bad += 1
            continue
        h, named, body = tocs[0]
        if named != rel:
            print(f'FAIL: {rel}/{h}: the table says it is of {named}/')
            bad += 1
        for c in sorted(f for f in os.listdir(path) if f.endswith('.c')):
            if c.startswith('cmd_') and 'cmd_<name>.c' in body:
                continue
            if not re.search(r'(^|\s)' + re.escape(c) + r'(\s|$)', body, re.M):
                print(f'FAIL: {rel}/{c} is not in the table of contents in {rel}/{h}')
                bad += 1
print('toc: %s' % ('ok' if not bad else '%d problems' % bad))
sys.exit(1 if bad else 0)
