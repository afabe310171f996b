// A small MessagePack codec with a dynamic value tree.
//
// Why hand-written: the only AssemblyScript MessagePack package on npm,
// @wapc/as-msgpack 0.1.15, targets AssemblyScript 0.21 and fails to compile
// with 0.28 (26 errors: implicit i32 -> u8 conversions in its switch cases).
// It is also schema-driven (typed readers and writers, no value tree), while
// actors need to decode arbitrary payloads (init args, peer replies, tuple
// templates with nil fields, atoms as ext 1). So the SDK carries its own
// codec: every MessagePack type, decoded into `Value`, bounds-checked, with a
// nesting limit so a hostile payload cannot overflow the stack.

export enum Kind {
  Nil = 0,
  Bool = 1,
  Int = 2, // signed 64-bit integer
  Uint = 3, // unsigned integer above i64.MAX_VALUE (bits kept in `i`)
  Float = 4,
  Str = 5,
  Bin = 6,
  Array = 7,
  Map = 8,
  Ext = 9,
  Raw = 10, // already-encoded MessagePack bytes, written out verbatim
}

/** MessagePack ext type that carries an atom (ABI: its payload is the name). */
export const EXT_ATOM: i8 = 1;

const MAX_DEPTH: i32 = 256;

/** One MessagePack object. */
export class Value {
  kind: Kind = Kind.Nil;
  b: bool = false;
  i: i64 = 0;
  f: f64 = 0;
  s: string = "";
  /** Bin data, Ext data, or the encoded bytes of a Raw value. */
  bytes: Uint8Array | null = null;
  /** Array items, or map keys. */
  items: Array<Value> | null = null;
  /** Map values (parallel to `items`). */
  vals: Array<Value> | null = null;
  extType: i8 = 0;

  // ---- constructors ----------------------------------------------------

  static nil(): Value {
    return new Value();
  }

  static bool(b: bool): Value {
    const v = new Value();
    v.kind = Kind.Bool;
    v.b = b;
    return v;
  }

  static int(i: i64): Value {
    const v = new Value();
    v.kind = Kind.Int;
    v.i = i;
    return v;
  }

  static uint(u: u64): Value {
    const v = new Value();
    v.kind = u > <u64>i64.MAX_VALUE ? Kind.Uint : Kind.Int;
    v.i = <i64>u;
    return v;
  }

  static float(f: f64): Value {
    const v = new Value();
    v.kind = Kind.Float;
    v.f = f;
    return v;
  }

  static str(s: string): Value {
    const v = new Value();
    v.kind = Kind.Str;
    v.s = s;
    return v;
  }

  static bin(data: Uint8Array): Value {
    const v = new Value();
    v.kind = Kind.Bin;
    v.bytes = data;
    return v;
  }

  static array(items: Array<Value> | null = null): Value {
    const v = new Value();
    v.kind = Kind.Array;
    v.items = items ? items : new Array<Value>();
    return v;
  }

  static map(): Value {
    const v = new Value();
    v.kind = Kind.Map;
    v.items = new Array<Value>();
    v.vals = new Array<Value>();
    return v;
  }

  static ext(type: i8, data: Uint8Array): Value {
    const v = new Value();
    v.kind = Kind.Ext;
    v.extType = type;
    v.bytes = data;
    return v;
  }

  /** An atom (ext 1). Only names the node already knows are safe to send. */
  static atom(name: string): Value {
    return Value.ext(EXT_ATOM, Uint8Array.wrap(String.UTF8.encode(name)));
  }

  /** Pre-encoded MessagePack bytes, embedded as they are when encoding. */
  static raw(encoded: Uint8Array): Value {
    const v = new Value();
    v.kind = Kind.Raw;
    v.bytes = encoded;
    return v;
  }

  // ---- builders (return this, so calls chain) ---------------------------

  /** Appends to an array. */
  push(item: Value): Value {
    assert(this.kind == Kind.Array, "push on a non-array");
    this.items!.push(item);
    return this;
  }

  /** Sets a string key of a map (replacing an existing entry). */
  set(key: string, val: Value): Value {
    assert(this.kind == Kind.Map, "set on a non-map");
    const keys = this.items!;
    for (let k = 0; k < keys.length; k++) {
      const kv = unchecked(keys[k]);
      if (kv.kind == Kind.Str && kv.s == key) {
        this.vals![k] = val;
        return this;
      }
    }
    keys.push(Value.str(key));
    this.vals!.push(val);
    return this;
  }

  /** Appends an entry with any key (no duplicate check). */
  setKey(key: Value, val: Value): Value {
    assert(this.kind == Kind.Map, "setKey on a non-map");
    this.items!.push(key);
    this.vals!.push(val);
    return this;
  }

  setInt(key: string, i: i64): Value {
    return this.set(key, Value.int(i));
  }

  setStr(key: string, s: string): Value {
    return this.set(key, Value.str(s));
  }

  setBool(key: string, b: bool): Value {
    return this.set(key, Value.bool(b));
  }

  setFloat(key: string, f: f64): Value {
    return this.set(key, Value.float(f));
  }

  // ---- predicates -------------------------------------------------------

  get isNil(): bool {
    return this.kind == Kind.Nil;
  }

  get isInt(): bool {
    return this.kind == Kind.Int || this.kind == Kind.Uint;
  }

  get isNumber(): bool {
    return this.isInt || this.kind == Kind.Float;
  }

  get isStr(): bool {
    return this.kind == Kind.Str;
  }

  get isMap(): bool {
    return this.kind == Kind.Map;
  }

  get isArray(): bool {
    return this.kind == Kind.Array;
  }

  get isAtom(): bool {
    return this.kind == Kind.Ext && this.extType == EXT_ATOM;
  }

  // ---- accessors --------------------------------------------------------

  /** Number of array items or map entries; 0 for other kinds. */
  get length(): i32 {
    if (this.kind == Kind.Array || this.kind == Kind.Map) return this.items!.length;
    return 0;
  }

  /** Array item `i`, or null. */
  at(i: i32): Value | null {
    if (this.kind != Kind.Array) return null;
    const items = this.items!;
    if (i < 0 || i >= items.length) return null;
    return unchecked(items[i]);
  }

  /** Map value under string key `key`, or null. */
  get(key: string): Value | null {
    if (this.kind != Kind.Map) return null;
    const keys = this.items!;
    for (let k = 0; k < keys.length; k++) {
      const kv = unchecked(keys[k]);
      if (kv.kind == Kind.Str && kv.s == key) return this.vals![k];
    }
    return null;
  }

  has(key: string): bool {
    return this.get(key) !== null;
  }

  /** Map key `k` (by position). */
  keyAt(k: i32): Value | null {
    if (this.kind != Kind.Map || k < 0 || k >= this.items!.length) return null;
    return this.items![k];
  }

  /** Map value `k` (by position). */
  valAt(k: i32): Value | null {
    if (this.kind != Kind.Map || k < 0 || k >= this.vals!.length) return null;
    return this.vals![k];
  }

  /** The integer (floats are truncated), or `def`. */
  asInt(def: i64 = 0): i64 {
    if (this.kind == Kind.Int || this.kind == Kind.Uint) return this.i;
    if (this.kind == Kind.Float) return <i64>this.f;
    return def;
  }

  /** The number as a float, or `def`. */
  asFloat(def: f64 = 0): f64 {
    if (this.kind == Kind.Float) return this.f;
    if (this.kind == Kind.Int) return <f64>this.i;
    if (this.kind == Kind.Uint) return <f64><u64>this.i;
    return def;
  }

  asBool(def: bool = false): bool {
    return this.kind == Kind.Bool ? this.b : def;
  }

  /** A string, an atom's name, or `def`. */
  asStr(def: string = ""): string {
    if (this.kind == Kind.Str) return this.s;
    if (this.isAtom) return bytesToString(this.bytes!);
    return def;
  }

  /** Bin (or string, as UTF-8) bytes, or null. */
  asBytes(): Uint8Array | null {
    if (this.kind == Kind.Bin) return this.bytes;
    if (this.kind == Kind.Str) return Uint8Array.wrap(String.UTF8.encode(this.s));
    return null;
  }

  getInt(key: string, def: i64 = 0): i64 {
    const v = this.get(key);
    return v ? v.asInt(def) : def;
  }

  getFloat(key: string, def: f64 = 0): f64 {
    const v = this.get(key);
    return v ? v.asFloat(def) : def;
  }

  getStr(key: string, def: string = ""): string {
    const v = this.get(key);
    return v ? v.asStr(def) : def;
  }

  getBool(key: string, def: bool = false): bool {
    const v = this.get(key);
    return v ? v.asBool(def) : def;
  }

  // ---- codec ------------------------------------------------------------

  /** The MessagePack encoding of this value. */
  encode(): Uint8Array {
    const w = new Writer(64);
    w.value(this, 0);
    return w.finish();
  }

  /** Decodes exactly one object filling `data`; null when malformed. */
  static decode(data: Uint8Array): Value | null {
    return Value.decodeAt(data.dataStart, data.length);
  }

  /** Decodes one object from memory `[ptr, ptr+len)`; null when malformed. */
  static decodeAt(ptr: usize, len: i32): Value | null {
    if (len <= 0) return null;
    const r = new Reader(ptr, ptr + <usize>len);
    const v = r.value(0);
    if (r.failed || r.pos != r.end) return null;
    return v;
  }
}

/** UTF-8 bytes to a string. */
export function bytesToString(b: Uint8Array): string {
  return String.UTF8.decodeUnsafe(b.dataStart, <usize>b.length);
}

/** A string to its UTF-8 bytes. */
export function stringToBytes(s: string): Uint8Array {
  return Uint8Array.wrap(String.UTF8.encode(s));
}

// ---- encoder ---------------------------------------------------------------

class Writer {
  buf: Uint8Array;
  len: i32 = 0;

  constructor(cap: i32) {
    this.buf = new Uint8Array(cap);
  }

  ensure(n: i32): void {
    const need = this.len + n;
    if (need <= this.buf.length) return;
    let cap = this.buf.length << 1;
    if (cap < need) cap = need;
    const nb = new Uint8Array(cap);
    memory.copy(nb.dataStart, this.buf.dataStart, <usize>this.len);
    this.buf = nb;
  }

  u8(x: u32): void {
    this.ensure(1);
    store<u8>(this.buf.dataStart + <usize>this.len, <u8>x);
    this.len += 1;
  }

  u16(x: u32): void {
    this.ensure(2);
    store<u16>(this.buf.dataStart + <usize>this.len, bswap<u16>(<u16>x));
    this.len += 2;
  }

  u32(x: u32): void {
    this.ensure(4);
    store<u32>(this.buf.dataStart + <usize>this.len, bswap<u32>(x));
    this.len += 4;
  }

  u64(x: u64): void {
    this.ensure(8);
    store<u64>(this.buf.dataStart + <usize>this.len, bswap<u64>(x));
    this.len += 8;
  }

  raw(ptr: usize, n: i32): void {
    if (n <= 0) return;
    this.ensure(n);
    memory.copy(this.buf.dataStart + <usize>this.len, ptr, <usize>n);
    this.len += n;
  }

  unsigned(u: u64): void {
    if (u < 0x80) this.u8(<u32>u);
    else if (u <= 0xff) {
      this.u8(0xcc);
      this.u8(<u32>u);
    } else if (u <= 0xffff) {
      this.u8(0xcd);
      this.u16(<u32>u);
    } else if (u <= 0xffffffff) {
      this.u8(0xce);
      this.u32(<u32>u);
    } else {
      this.u8(0xcf);
      this.u64(u);
    }
  }

  signed(i: i64): void {
    if (i >= 0) {
      this.unsigned(<u64>i);
    } else if (i >= -32) {
      this.u8(<u32>(<i32>i & 0xff));
    } else if (i >= -128) {
      this.u8(0xd0);
      this.u8(<u32>(<i32>i & 0xff));
    } else if (i >= -32768) {
      this.u8(0xd1);
      this.u16(<u32>(<i32>i & 0xffff));
    } else if (i >= -2147483648) {
      this.u8(0xd2);
      this.u32(<u32><i32>i);
    } else {
      this.u8(0xd3);
      this.u64(<u64>i);
    }
  }

  strHeader(n: u32): void {
    if (n < 32) this.u8(0xa0 | n);
    else if (n <= 0xff) {
      this.u8(0xd9);
      this.u8(n);
    } else if (n <= 0xffff) {
      this.u8(0xda);
      this.u16(n);
    } else {
      this.u8(0xdb);
      this.u32(n);
    }
  }

  binHeader(n: u32): void {
    if (n <= 0xff) {
      this.u8(0xc4);
      this.u8(n);
    } else if (n <= 0xffff) {
      this.u8(0xc5);
      this.u16(n);
    } else {
      this.u8(0xc6);
      this.u32(n);
    }
  }

  arrayHeader(n: u32): void {
    if (n < 16) this.u8(0x90 | n);
    else if (n <= 0xffff) {
      this.u8(0xdc);
      this.u16(n);
    } else {
      this.u8(0xdd);
      this.u32(n);
    }
  }

  mapHeader(n: u32): void {
    if (n < 16) this.u8(0x80 | n);
    else if (n <= 0xffff) {
      this.u8(0xde);
      this.u16(n);
    } else {
      this.u8(0xdf);
      this.u32(n);
    }
  }

  extHeader(n: u32, type: i8): void {
    if (n == 1) this.u8(0xd4);
    else if (n == 2) this.u8(0xd5);
    else if (n == 4) this.u8(0xd6);
    else if (n == 8) this.u8(0xd7);
    else if (n == 16) this.u8(0xd8);
    else if (n <= 0xff) {
      this.u8(0xc7);
      this.u8(n);
    } else if (n <= 0xffff) {
      this.u8(0xc8);
      this.u16(n);
    } else {
      this.u8(0xc9);
      this.u32(n);
    }
    this.u8(<u32>(<i32>type & 0xff));
  }

  value(v: Value, depth: i32): void {
    assert(depth <= MAX_DEPTH, "msgpack: value nested too deeply");
    switch (v.kind) {
      case Kind.Nil:
        this.u8(0xc0);
        break;
      case Kind.Bool:
        this.u8(v.b ? 0xc3 : 0xc2);
        break;
      case Kind.Int:
        this.signed(v.i);
        break;
      case Kind.Uint:
        this.unsigned(<u64>v.i);
        break;
      case Kind.Float:
        this.u8(0xcb);
        this.u64(reinterpret<u64>(v.f));
        break;
      case Kind.Str: {
        const utf8 = String.UTF8.encode(v.s);
        this.strHeader(<u32>utf8.byteLength);
        this.raw(changetype<usize>(utf8), utf8.byteLength);
        break;
      }
      case Kind.Bin: {
        const b = v.bytes!;
        this.binHeader(<u32>b.length);
        this.raw(b.dataStart, b.length);
        break;
      }
      case Kind.Array: {
        const items = v.items!;
        this.arrayHeader(<u32>items.length);
        for (let k = 0; k < items.length; k++) this.value(unchecked(items[k]), depth + 1);
        break;
      }
      case Kind.Map: {
        const keys = v.items!;
        const vals = v.vals!;
        this.mapHeader(<u32>keys.length);
        for (let k = 0; k < keys.length; k++) {
          this.value(unchecked(keys[k]), depth + 1);
          this.value(unchecked(vals[k]), depth + 1);
        }
        break;
      }
      case Kind.Ext: {
        const b = v.bytes!;
        this.extHeader(<u32>b.length, v.extType);
        this.raw(b.dataStart, b.length);
        break;
      }
      case Kind.Raw: {
        const b = v.bytes!;
        if (b.length == 0) this.u8(0xc0); // nothing encoded: nil
        else this.raw(b.dataStart, b.length);
        break;
      }
      default:
        this.u8(0xc0);
    }
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

// ---- decoder ---------------------------------------------------------------

class Reader {
  pos: usize;
  end: usize;
  failed: bool = false;

  constructor(pos: usize, end: usize) {
    this.pos = pos;
    this.end = end;
  }

  /** True when `n` more bytes are available; marks the reader failed otherwise. */
  take(n: u64): bool {
    if (this.failed || n > <u64>(this.end - this.pos)) {
      this.failed = true;
      return false;
    }
    return true;
  }

  u8(): u32 {
    if (!this.take(1)) return 0;
    const x = <u32>load<u8>(this.pos);
    this.pos += 1;
    return x;
  }

  u16(): u32 {
    if (!this.take(2)) return 0;
    const x = <u32>bswap<u16>(load<u16>(this.pos));
    this.pos += 2;
    return x;
  }

  u32(): u32 {
    if (!this.take(4)) return 0;
    const x = bswap<u32>(load<u32>(this.pos));
    this.pos += 4;
    return x;
  }

  u64(): u64 {
    if (!this.take(8)) return 0;
    const x = bswap<u64>(load<u64>(this.pos));
    this.pos += 8;
    return x;
  }

  bytes(n: u32): Uint8Array {
    if (!this.take(<u64>n)) return new Uint8Array(0);
    const b = new Uint8Array(<i32>n);
    memory.copy(b.dataStart, this.pos, <usize>n);
    this.pos += <usize>n;
    return b;
  }

  str(n: u32): Value {
    if (!this.take(<u64>n)) return Value.nil();
    const s = String.UTF8.decodeUnsafe(this.pos, <usize>n);
    this.pos += <usize>n;
    return Value.str(s);
  }

  array(n: u32, depth: i32): Value {
    // Every item takes at least one byte: refuse counts the input cannot hold.
    if (!this.take(<u64>n)) return Value.nil();
    const items = new Array<Value>();
    for (let k: u32 = 0; k < n && !this.failed; k++) items.push(this.value(depth + 1));
    return Value.array(items);
  }

  map(n: u32, depth: i32): Value {
    if (!this.take(<u64>n * 2)) return Value.nil();
    const m = Value.map();
    for (let k: u32 = 0; k < n && !this.failed; k++) {
      const key = this.value(depth + 1);
      const val = this.value(depth + 1);
      m.setKey(key, val);
    }
    return m;
  }

  ext(n: u32): Value {
    const type = <i8>this.u8();
    const data = this.bytes(n);
    return Value.ext(type, data);
  }

  value(depth: i32): Value {
    if (depth > MAX_DEPTH) {
      this.failed = true;
      return Value.nil();
    }
    const t = this.u8();
    if (this.failed) return Value.nil();
    if (t < 0x80) return Value.int(<i64>t);
    if (t >= 0xe0) return Value.int(<i64>(<i8>t));
    if (t <= 0x8f) return this.map(t & 0x0f, depth);
    if (t <= 0x9f) return this.array(t & 0x0f, depth);
    if (t <= 0xbf) return this.str(t & 0x1f);
    switch (t) {
      case 0xc0:
        return Value.nil();
      case 0xc2:
        return Value.bool(false);
      case 0xc3:
        return Value.bool(true);
      case 0xc4:
        return Value.bin(this.bytes(this.u8()));
      case 0xc5:
        return Value.bin(this.bytes(this.u16()));
      case 0xc6:
        return Value.bin(this.bytes(this.u32()));
      case 0xc7:
        return this.ext(this.u8());
      case 0xc8:
        return this.ext(this.u16());
      case 0xc9:
        return this.ext(this.u32());
      case 0xca:
        return Value.float(<f64>reinterpret<f32>(this.u32()));
      case 0xcb:
        return Value.float(reinterpret<f64>(this.u64()));
      case 0xcc:
        return Value.int(<i64>this.u8());
      case 0xcd:
        return Value.int(<i64>this.u16());
      case 0xce:
        return Value.int(<i64>this.u32());
      case 0xcf:
        return Value.uint(this.u64());
      case 0xd0:
        return Value.int(<i64><i8>this.u8());
      case 0xd1:
        return Value.int(<i64><i16>this.u16());
      case 0xd2:
        return Value.int(<i64><i32>this.u32());
      case 0xd3:
        return Value.int(<i64>this.u64());
      case 0xd4:
        return this.ext(1);
      case 0xd5:
        return this.ext(2);
      case 0xd6:
        return this.ext(4);
      case 0xd7:
        return this.ext(8);
      case 0xd8:
        return this.ext(16);
      case 0xd9:
        return this.str(this.u8());
      case 0xda:
        return this.str(this.u16());
      case 0xdb:
        return this.str(this.u32());
      case 0xdc:
        return this.array(this.u16(), depth);
      case 0xdd:
        return this.array(this.u32(), depth);
      case 0xde:
        return this.map(this.u16(), depth);
      case 0xdf:
        return this.map(this.u32(), depth);
      default:
        // 0xc1 is never used.
        this.failed = true;
        return Value.nil();
    }
  }
}
