#!/usr/bin/env python3
"""Check a guest module against the plexspaces WebAssembly ABI, version 1.

Usage: python3 examples/wasm/check_abi.py [--strict] [--list] OUT.wasm

Reads the wasm binary directly (type, import, function and export sections;
no wabt or wasmtime needed) and compares it with the tables below, which are
transcribed from docs/wasm-abi.md:

- every import from module "plexspaces" must be a function named in IMPORTS
  with exactly that signature; imports from "wasi_snapshot_preview1" are
  allowed (functions only); any other import module is rejected;
- every export in EXPORTS must be present with exactly that signature
  ("memory" must be an exported memory); "_initialize" is optional but, when
  present, must be () -> ().  Other exports are reported; with --strict they
  are an error.

--list also prints every import and export with its signature.

Exit 0 with a one-line summary when the module conforms, 1 with a message
per problem otherwise (2 for usage errors or an unreadable file).
"""

import sys

I32, I64, F32, F64 = "i32", "i64", "f32", "f64"

# name: (params, results) -- the "plexspaces" host imports.
IMPORTS = {
    # Actors
    "send": ([I32] * 6, [I32]),
    "ask": ([I32] * 6 + [I64], [I32]),
    "reply": ([I32, I32], [I32]),
    "self_id": ([], [I32]),
    "spawn": ([I32] * 4, [I32]),
    "stop": ([I32, I32], [I32]),
    "link": ([I32, I32], [I32]),
    "unlink": ([I32, I32], [I32]),
    "monitor": ([I32, I32], [I64]),
    "demonitor": ([I64], [I32]),
    "send_after": ([I64, I32, I32, I32, I32], [I64]),
    "cancel_timer": ([I64], [I32]),
    "sleep": ([I64], [I32]),
    # Utilities
    "log": ([I32, I32, I32], [I32]),
    "now_ms": ([], [I64]),
    "random": ([I32, I32], [I32]),
    "metrics_add": ([I32, I32, F64], [I32]),
    "result_read": ([I32, I32], [I32]),
    # Key-value store
    "kv_get": ([I32, I32], [I32]),
    "kv_put": ([I32, I32, I32, I32, I64], [I32]),
    "kv_delete": ([I32, I32], [I32]),
    "kv_list": ([I32, I32], [I32]),
    "kv_cas": ([I32] * 6 + [I64], [I32]),
    "kv_increment": ([I32, I32, I64, I32], [I32]),
    "kv_ttl": ([I32, I32], [I64]),
    # Tuple space
    "ts_write": ([I32, I32, I64], [I32]),
    "ts_read": ([I32, I32, I64], [I32]),
    "ts_take": ([I32, I32, I64], [I32]),
    "ts_read_all": ([I32, I32, I32], [I32]),
    "ts_count": ([I32, I32], [I64]),
    "ts_write_if_absent": ([I32, I32, I32, I32, I64], [I32]),
    "ts_replace": ([I32, I32, I32, I32, I64], [I32]),
    # Service links
    "http_fetch": ([I32] * 8, [I32]),
}

HOST_MODULE = "plexspaces"
WASI_MODULE = "wasi_snapshot_preview1"

# name: (params, results), or "memory".
EXPORTS = {
    "memory": "memory",
    "px_abi_version": ([], [I32]),
    "px_alloc": ([I32], [I32]),
    "px_free": ([I32, I32], []),
    "px_init": ([I32, I32], [I32]),
    "px_handle": ([I32] * 7, [I32]),
    "px_get_state": ([], [I64]),
    "px_set_state": ([I32, I32], [I32]),
}
OPTIONAL_EXPORTS = {"_initialize": ([], [])}

VALTYPES = {0x7F: I32, 0x7E: I64, 0x7D: F32, 0x7C: F64, 0x7B: "v128",
            0x70: "funcref", 0x6F: "externref"}
KINDS = {0: "function", 1: "table", 2: "memory", 3: "global", 4: "tag"}


class BadModule(Exception):
    pass


class Reader:
    def __init__(self, data, pos=0, end=None):
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def byte(self):
        if self.pos >= self.end:
            raise BadModule("unexpected end of section at offset %d" % self.pos)
        b = self.data[self.pos]
        self.pos += 1
        return b

    def uleb(self):
        result = shift = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 63:
                raise BadModule("LEB128 number too long at offset %d" % self.pos)

    def bytes(self, n):
        if self.pos + n > self.end:
            raise BadModule("unexpected end of section at offset %d" % self.pos)
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def name(self):
        raw = self.bytes(self.uleb())
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BadModule("a name is not UTF-8: %r" % raw)

    def valtype(self):
        b = self.byte()
        if b not in VALTYPES:
            raise BadModule("unsupported value type 0x%02x at offset %d"
                            % (b, self.pos - 1))
        return VALTYPES[b]

    def limits(self):
        flags = self.byte()
        self.uleb()
        if flags & 1:
            self.uleb()


def parse(data):
    """Returns (types, imports, exports, func_types).

    imports: list of (module, name, kind, type-or-None);
    exports: dict name -> (kind, type-or-None);
    func_types: the type of every function index (imports first)."""
    if data[:4] != b"\0asm":
        raise BadModule("not a WebAssembly binary (bad magic)")
    if data[4:8] != b"\x01\0\0\0":
        raise BadModule("not a core module of binary version 1 "
                        "(a component, or a newer format?)")
    types, imports, raw_exports, func_types = [], [], [], []
    defined = []
    pos = 8
    while pos < len(data):
        r = Reader(data, pos)
        sid = r.byte()
        size = r.uleb()
        start = r.pos
        end = start + size
        if end > len(data):
            raise BadModule("section %d runs past the end of the file" % sid)
        s = Reader(data, start, end)
        if sid == 1:  # type
            for _ in range(s.uleb()):
                form = s.byte()
                if form != 0x60:
                    raise BadModule("unsupported type form 0x%02x" % form)
                params = [s.valtype() for _ in range(s.uleb())]
                results = [s.valtype() for _ in range(s.uleb())]
                types.append((params, results))
        elif sid == 2:  # import
            for _ in range(s.uleb()):
                module, name, kind = s.name(), s.name(), s.byte()
                sig = None
                if kind == 0:
                    idx = s.uleb()
                    if idx >= len(types):
                        raise BadModule("import %s.%s names type %d of %d"
                                        % (module, name, idx, len(types)))
                    sig = types[idx]
                    func_types.append(sig)
                elif kind == 1:
                    s.valtype()
                    s.limits()
                elif kind == 2:
                    s.limits()
                elif kind == 3:
                    s.valtype()
                    s.byte()
                elif kind == 4:
                    s.byte()
                    s.uleb()
                else:
                    raise BadModule("import %s.%s has unknown kind %d"
                                    % (module, name, kind))
                imports.append((module, name, kind, sig))
        elif sid == 3:  # function
            for _ in range(s.uleb()):
                idx = s.uleb()
                if idx >= len(types):
                    raise BadModule("a function names type %d of %d"
                                    % (idx, len(types)))
                defined.append(types[idx])
        elif sid == 7:  # export
            for _ in range(s.uleb()):
                name, kind = s.name(), s.byte()
                idx = s.uleb()
                raw_exports.append((name, kind, idx))
        pos = end
    func_types.extend(defined)
    exports = {}
    for name, kind, idx in raw_exports:
        sig = None
        if kind == 0:
            if idx >= len(func_types):
                raise BadModule("export %s names function %d of %d"
                                % (name, idx, len(func_types)))
            sig = func_types[idx]
        exports[name] = (kind, sig)
    return types, imports, exports, func_types


def show(sig):
    params, results = sig
    return "(%s) -> (%s)" % (", ".join(params), ", ".join(results))


def listing(imports, exports):
    lines = []
    for module, name, kind, sig in imports:
        lines.append("import %s.%s %s" % (module, name,
                     show(sig) if sig else KINDS.get(kind, kind)))
    for name, (kind, sig) in sorted(exports.items()):
        lines.append("export %s %s" % (name,
                     show(sig) if sig else KINDS.get(kind, kind)))
    return lines


def check(path, strict=False, list_all=False):
    with open(path, "rb") as f:
        data = f.read()
    try:
        _, imports, exports, _ = parse(data)
    except BadModule as e:
        return ["%s: %s" % (path, e)], None
    errors, notes = [], []
    if list_all:
        print("\n".join(listing(imports, exports)))
    nhost = nwasi = 0
    for module, name, kind, sig in imports:
        what = "import %s.%s" % (module, name)
        if module == HOST_MODULE:
            if kind != 0:
                errors.append("%s is a %s, not a function"
                              % (what, KINDS.get(kind, kind)))
            elif name not in IMPORTS:
                errors.append("%s is not a host function of ABI version 1"
                              % what)
            elif tuple(map(tuple, sig)) != tuple(map(tuple, IMPORTS[name])):
                errors.append("%s has signature %s, the ABI says %s"
                              % (what, show(sig), show(IMPORTS[name])))
            else:
                nhost += 1
        elif module == WASI_MODULE:
            if kind != 0:
                errors.append("%s is a %s, not a function"
                              % (what, KINDS.get(kind, kind)))
            else:
                nwasi += 1
        else:
            errors.append("%s: module \"%s\" is not allowed (only \"%s\" and "
                          "\"%s\")" % (what, module, HOST_MODULE, WASI_MODULE))
    expected = dict(EXPORTS)
    for name, want in list(expected.items()) + list(OPTIONAL_EXPORTS.items()):
        if name not in exports:
            if name in EXPORTS:
                errors.append("export %s is missing" % name)
            continue
        kind, sig = exports[name]
        if want == "memory":
            if kind != 2:
                errors.append("export %s is a %s, not a memory"
                              % (name, KINDS.get(kind, kind)))
        elif kind != 0:
            errors.append("export %s is a %s, not a function"
                          % (name, KINDS.get(kind, kind)))
        elif tuple(map(tuple, sig)) != tuple(map(tuple, want)):
            errors.append("export %s has signature %s, the ABI says %s"
                          % (name, show(sig), show(want)))
    extra = sorted(n for n in exports
                   if n not in EXPORTS and n not in OPTIONAL_EXPORTS)
    if extra:
        msg = "exports not in the ABI: %s" % ", ".join(extra)
        (errors if strict else notes).append(msg)
    summary = ("%s: ABI v1 ok: %d bytes, %d plexspaces imports, %d wasi "
               "imports, %d exports%s" % (
                   path, len(data), nhost, nwasi, len(exports),
                   " (_initialize)" if "_initialize" in exports else ""))
    return ["%s: %s" % (path, e) for e in errors], (summary, notes)


def main(argv):
    args = argv[1:]
    strict = list_all = False
    while args and args[0] in ("--strict", "--list"):
        if args[0] == "--strict":
            strict = True
        else:
            list_all = True
        args = args[1:]
    if len(args) != 1:
        sys.stderr.write("usage: check_abi.py [--strict] [--list] "
                         "MODULE.wasm\n")
        return 2
    try:
        errors, ok = check(args[0], strict, list_all)
    except OSError as e:
        sys.stderr.write("check_abi.py: %s\n" % e)
        return 2
    if errors:
        for e in errors:
            sys.stderr.write(e + "\n")
        return 1
    summary, notes = ok
    for n in notes:
        sys.stderr.write("%s: note: %s\n" % (args[0], n))
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
