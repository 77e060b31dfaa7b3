#!/usr/bin/env python3
"""Functions longer than LIMIT lines (default 80) in the .rs files under ROOT (default .), longest
first, then a total: `python3 tools/long_functions.py [ROOT] [LIMIT]`. Bodies are found by brace
matching with strings and line comments blanked, good enough for a size check, not a parser."""
import re, sys, os
root = sys.argv[1] if len(sys.argv) > 1 else "."; limit = int(sys.argv[2]) if len(sys.argv) > 2 else 80; out = []
for dp,dn,fn in os.walk(root):
    if '/target' in dp or '/.git' in dp or '/fuzz/target' in dp: continue
    for f in fn:
        if not f.endswith('.rs'): continue
        p=os.path.join(dp,f); lines=open(p,errors='replace').read().split('\n')
        i=0
        while i<len(lines):
            l=lines[i]
            if re.match(r'\s*(pub(\([a-z]+\))?\s+)?(async\s+)?(const\s+)?(unsafe\s+)?fn\s+\w+',l):
                depth=0; started=False; j=i
                while j<len(lines):
                    s=re.sub(r'"(\\.|[^"\\])*"','""',lines[j]); s=re.sub(r"'(\\.|[^'\\])'","''",s); s=s.split('//')[0]
                    for ch in s:
                        if ch=='{': depth+=1; started=True
                        elif ch=='}': depth-=1
                    if started and depth<=0: break
                    if not started and s.rstrip().endswith(';'): break
                    j+=1
                n=j-i+1
                if started and n>limit: out.append((n,os.path.relpath(p,root),i+1,l.strip()[:60]))
                i=j+1 if started else i+1
            else: i+=1
for o in sorted(out,reverse=True): print(*o)
print("total",len(out))
