#!/usr/bin/env bash
# cli_import_raw.sh -- `numrep import-raw DIR -o FILE`: a good directory
# (output checked byte for byte by an independent python3 reader when
# python3 is present) and bad manifests, each with the message it must give.
# usage: bash cli_import_raw.sh path/to/numrep
set -u
BIN=${1:?usage: cli_import_raw.sh path/to/numrep}
. "$(dirname "$0")/lib/cli.sh"

# raw little-endian float32 from a list of hex bit patterns
f32() { local out=$1; shift; : >"$out"; for h in "$@"; do
    printf "\\x${h:6:2}\\x${h:4:2}\\x${h:2:2}\\x${h:0:2}" >>"$out"; done; }

# ---- good directory
G=$tmp/good
mkdir -p "$G/sub"
f32 "$G/w.f32" 3f800000 40000000 c0400000 7f800000 00000001 80000000
f32 "$G/sub/b.f32" 3fc00000 bf000000
: >"$G/empty.f32"
cat >"$G/manifest.txt" <<'EOF'
# name dtype shape file
conv.weight f32 1x2x3 w.f32

	conv.bias   f32   2   sub/b.f32   
e f32 0x4 empty.f32
EOF
expect_exit 0 "good directory" "3 tensors, 8 values" import-raw "$G" -o "$tmp/good.safetensors"
if command -v python3 >/dev/null 2>&1 && [ -f "$tmp/good.safetensors" ]; then
    python3 - "$tmp/good.safetensors" "$G" <<'EOF' && ok || bad "good directory: python check"
import json, struct, sys
b = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
assert (8 + n) % 8 == 0, 'data not 8-aligned'
assert b[8:9] == b'{'
h = json.loads(b[8:8 + n].decode('utf-8'))
d = b[8 + n:]
want = [('conv.weight', [1, 2, 3], 'w.f32'), ('conv.bias', [2], 'sub/b.f32'), ('e', [0, 4], 'empty.f32')]
assert list(h) == [w[0] for w in want], list(h)
at = 0
for name, shape, f in want:
    t = h[name]
    assert t['dtype'] == 'F32' and t['shape'] == shape, t
    s, e = t['data_offsets']
    assert s == at, (name, s, at)
    assert d[s:e] == open(sys.argv[2] + '/' + f, 'rb').read(), name
    at = e
assert at == len(d)
EOF
fi

# ---- usage errors (exit 2)
expect_usage() { # expect_usage LABEL WANT ARGS...
    expect_exit 2 "$1" "$2" import-raw "${@:3}"
}
expect_usage "no args" "missing the input directory"
expect_usage "no -o" "missing -o" "$G"
expect_usage "-o without file" "-o needs a file name" "$G" -o
expect_usage "unknown option" "unknown option '--bogus'" "$G" --bogus -o x
expect_usage "two dirs" "more than one directory" "$G" "$G" -o x
"$BIN" import-raw --help | grep -q "usage: numrep import-raw" && ok || bad "--help"

# ---- bad manifests: each must fail (exit 1) naming manifest:line and the problem
bad_manifest() { # bad_manifest LABEL WANT MANIFEST-TEXT
    local label=$1 want=$2 manifest=$3
    local D=$tmp/bad_$label
    rm -rf "$D"; mkdir -p "$D"
    cp "$G/w.f32" "$D/w.f32"
    printf '%s' "$manifest" >"$D/manifest.txt"
    expect_exit 1 "$label" "$want" import-raw "$D" -o "$D/out.safetensors"
    [ ! -e "$D/out.safetensors" ] && ok || bad "$label: output written despite the error"
}
M=manifest.txt
bad_manifest size     "$M:2: tensor a: $tmp/bad_size/w.f32 has 24 bytes, but shape needs 28 (7 float32 values)" \
    $'# c\na f32 7 w.f32\n'
bad_manifest fields   "$M:1: 3 fields, expected 4: name f32 shape file" $'a f32 6\n'
bad_manifest toomany  "$M:1: 5 fields, expected 4" $'a f32 6 w.f32 extra\n'
bad_manifest dtype    "$M:1: tensor a: dtype \"f64\" is not supported (expected f32)" $'a f64 3 w.f32\n'
bad_manifest dup      "$M:3: tensor a: duplicate tensor name (first on line 1)" $'a f32 6 w.f32\n\na f32 6 w.f32\n'
bad_manifest shape    "$M:1: shape: \"2x\" is not a shape" $'a f32 2x w.f32\n'
bad_manifest shape2   "$M:1: shape: \"2*3\" is not a shape" $'a f32 2*3 w.f32\n'
bad_manifest shapeneg "$M:1: shape: \"-6\" is not a shape" $'a f32 -6 w.f32\n'
bad_manifest bigdim   "$M:1: shape: dimension in \"99999999999999999999\" is too large" $'a f32 99999999999999999999 w.f32\n'
bad_manifest bigcount "$M:1: shape: \"4294967296x4294967296\" has too many elements" $'a f32 4294967296x4294967296 w.f32\n'
bad_manifest ndim     "$M:1: shape: \"1x1x1x1x1x1x1x1x6\" has more than 8 dimensions" $'a f32 1x1x1x1x1x1x1x1x6 w.f32\n'
bad_manifest missing  "$M:1: tensor a: cannot open" $'a f32 6 nothere.f32\n'
bad_manifest abs      "$M:1: tensor a: file \"/etc/passwd\" must be a relative path" $'a f32 6 /etc/passwd\n'
bad_manifest dotdot   "$M:1: tensor a: file \"../w.f32\" must be a relative path" $'a f32 6 ../w.f32\n'
bad_manifest dirfile  "$M:1: tensor a:" $'a f32 6 .\n'
bad_manifest empty    "$M: no tensors" $'# only a comment\n\n'
bad_manifest meta     "$M:1: name: tensor name must be at most 127 bytes and not __metadata__" $'__metadata__ f32 6 w.f32\n'
long=$(printf 'n%.0s' $(seq 1 200))
bad_manifest longname "tensor name must be at most 127 bytes" "$long f32 6 w.f32"$'\n'
# the NUL test: printf cannot put NUL in a shell string, so write it directly
D=$tmp/bad_nul; mkdir -p "$D"; printf 'a f32 6 w\0.f32\n' >"$D/manifest.txt"
expect_exit 1 "nul" "NUL byte in the line" import-raw "$D" -o "$D/out.safetensors"
# a line longer than 4096 bytes
D=$tmp/bad_longline; mkdir -p "$D"; { printf 'a f32 6 '; printf 'x%.0s' $(seq 1 5000); echo; } >"$D/manifest.txt"
expect_exit 1 "long line" "manifest.txt:1: line longer than 4096 bytes" \
    import-raw "$D" -o "$D/out.safetensors"
# no manifest at all
expect_exit 1 "no manifest" "manifest.txt: cannot open" \
    import-raw "$tmp/nonexistent" -o "$tmp/x.safetensors"
# unwritable output
expect_exit 1 "unwritable" "cannot create" import-raw "$G" -o "$tmp/nodir/x.safetensors"

finish
