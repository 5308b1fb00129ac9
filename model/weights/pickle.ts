/**
 * A small pickle virtual machine: enough of protocols 2–5 to read what torch.save emits, without executing
 * anything. Globals stay symbolic (PyGlobal); calling one goes through the caller's `callGlobal` hook, and
 * anything the hook does not know becomes an inert PyObject, so checkpoints carrying extra Python objects
 * (argparse namespaces, numpy scalars, optimizer state) still load as long as the tensors are readable.
 */
import { WeightsError } from './errors.js';

/** A `module.name` reference from GLOBAL / STACK_GLOBAL. */
export class PyGlobal {
  readonly module: string;
  readonly name: string;
  constructor(
    module: string,
    name: string,
  ) {
    this.module = module;
    this.name = name;
  }

  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** A Python dict (or OrderedDict), insertion-ordered. */
export class PyDict {
  readonly items = new Map<unknown, unknown>();
  /** Instance state set by BUILD (e.g. a state_dict's `_metadata`); not part of the mapping. */
  state: unknown = undefined;
}

/** An instance of a class the reader does not model: what was called, with what, and its state. */
export class PyObject {
  readonly listItems: unknown[] = [];
  readonly dictItems = new Map<unknown, unknown>();
  state: unknown = undefined;

  readonly callable: unknown;
  readonly args: unknown[];
  constructor(
    callable: unknown,
    args: unknown[],
  ) {
    this.callable = callable;
    this.args = args;
  }
}

export interface UnpickleHooks {
  /** Resolves BINPERSID / PERSID ids (torch: storages). */
  persistentLoad(pid: unknown): unknown;
  /**
   * Builds the result of calling `fn(...args)` (REDUCE / NEWOBJ), or returns `undefined` to leave it to the
   * default (OrderedDict → PyDict, anything else → PyObject). `call` re-enters the dispatch for nested calls.
   */
  callGlobal?(fn: PyGlobal, args: unknown[], call: (fn: unknown, args: unknown[]) => unknown): unknown;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');

const HIGHEST_PROTOCOL = 5;

/**
 * Bounds on what one pickle may make the machine do: a hostile pickle of a few compressed megabytes can
 * otherwise push hundreds of millions of values and exhaust V8's heap (a fatal error, not an exception). A
 * torchvision checkpoint, optimizer state included, needs about 30 thousand ops and a stack of a few thousand.
 */
export interface PickleLimits {
  /** Values on the stack at once (MARKed frames included). */
  maxStack: number;
  /** Entries in the memo. */
  maxMemo: number;
  /** Opcodes executed: each allocates at most one small object, so this bounds the heap too. */
  maxOps: number;
}

export const PICKLE_LIMITS: PickleLimits = { maxStack: 1_000_000, maxMemo: 1_000_000, maxOps: 5_000_000 };

class Machine {
  private pos: number;
  private ops = 0;
  private stack: unknown[] = [];
  private readonly marks: number[] = [];
  private readonly memo = new Map<number, unknown>();
  private readonly view: DataView;
  result: { value: unknown } | null = null;

  private readonly bytes: Uint8Array;
  private readonly file: string;
  private readonly hooks: UnpickleHooks;
  private readonly limits: PickleLimits;
  constructor(
    bytes: Uint8Array,
    file: string,
    hooks: UnpickleHooks,
    start: number,
    limits: PickleLimits,
  ) {
    this.bytes = bytes;
    this.file = file;
    this.hooks = hooks;
    this.pos = start;
    this.limits = limits;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  fail(problem: string): never {
    throw new WeightsError(this.file, `pickle: ${problem} (at byte ${this.pos})`);
  }

  private need(n: number): number {
    if (this.pos + n > this.bytes.length) {
      this.fail(`truncated: needs ${n} more bytes, ${this.bytes.length - this.pos} left`);
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  u8(): number {
    return this.bytes[this.need(1)];
  }
  u16(): number {
    return this.view.getUint16(this.need(2), true);
  }
  u32(): number {
    return this.view.getUint32(this.need(4), true);
  }
  i32(): number {
    return this.view.getInt32(this.need(4), true);
  }
  u64(): number {
    const value = this.view.getBigUint64(this.need(8), true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`length ${value} is implausible`);
    return Number(value);
  }
  f64be(): number {
    return this.view.getFloat64(this.need(8), false);
  }
  raw(n: number): Uint8Array {
    const at = this.need(n);
    return this.bytes.subarray(at, at + n);
  }
  text(n: number): string {
    const data = this.raw(n);
    try {
      return utf8.decode(data);
    } catch {
      return this.fail('string is not valid UTF-8');
    }
  }
  line(): string {
    const end = this.bytes.indexOf(0x0a, this.pos);
    if (end < 0) this.fail('truncated: unterminated text argument');
    const value = latin1.decode(this.bytes.subarray(this.pos, end));
    this.pos = end + 1;
    return value;
  }

  /** Two's-complement little-endian integer of n bytes (LONG1 / LONG4); a number when it is exact. */
  long(n: number): number | bigint {
    const data = this.raw(n);
    let value = 0n;
    for (let i = n - 1; i >= 0; i--) value = (value << 8n) | BigInt(data[i]);
    if (n > 0 && data[n - 1] & 0x80) value -= 1n << BigInt(8 * n);
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  }

  get position(): number {
    return this.pos;
  }

  push(value: unknown): void {
    if (this.stack.length >= this.limits.maxStack) this.fail(`stack deeper than ${this.limits.maxStack} values: refused`);
    this.stack.push(value);
  }
  pop(): unknown {
    if (this.stack.length === 0 || (this.marks.length > 0 && this.stack.length <= this.marks[this.marks.length - 1])) {
      this.fail('stack underflow');
    }
    return this.stack.pop();
  }
  top(): unknown {
    if (this.stack.length === 0) this.fail('stack underflow');
    return this.stack[this.stack.length - 1];
  }
  mark(): void {
    if (this.marks.length >= this.limits.maxStack) this.fail(`more than ${this.limits.maxStack} open MARKs: refused`);
    this.marks.push(this.stack.length);
  }
  popMark(): unknown[] {
    const at = this.marks.pop();
    if (at === undefined) this.fail('MARK expected but none is open');
    return this.stack.splice(at);
  }
  put(index: number): void {
    if (!this.memo.has(index) && this.memo.size >= this.limits.maxMemo) this.fail(`memo larger than ${this.limits.maxMemo} entries: refused`);
    this.memo.set(index, this.top());
  }
  get(index: number): void {
    if (!this.memo.has(index)) this.fail(`memo entry ${index} was never stored`);
    this.push(this.memo.get(index));
  }
  memoize(): void {
    this.put(this.memo.size);
  }

  call(fn: unknown, args: unknown[]): unknown {
    if (fn instanceof PyGlobal) {
      const built = this.hooks.callGlobal?.(fn, args, (f, a) => this.call(f, a));
      if (built !== undefined) return built;
      if (fn.qualifiedName === 'collections.OrderedDict' || fn.qualifiedName === 'builtins.dict') {
        const dict = new PyDict();
        // OrderedDict may be called with a list of (key, value) pairs.
        if (Array.isArray(args[0])) for (const pair of args[0]) if (Array.isArray(pair)) dict.items.set(pair[0], pair[1]);
        return dict;
      }
    }
    return new PyObject(fn, args);
  }

  setItems(target: unknown, pairs: unknown[]): void {
    if (pairs.length % 2 !== 0) this.fail('SETITEMS with an odd number of items');
    const map = target instanceof PyDict ? target.items : target instanceof PyObject ? target.dictItems : null;
    if (!map) this.fail(`SETITEMS on a ${describePickled(target)}`);
    for (let i = 0; i < pairs.length; i += 2) map.set(pairs[i], pairs[i + 1]);
  }

  appendItems(target: unknown, items: unknown[]): void {
    const list = Array.isArray(target) ? target : target instanceof PyObject ? target.listItems : null;
    if (!list) this.fail(`APPENDS on a ${describePickled(target)}`);
    list.push(...items);
  }

  persistentLoad(pid: unknown): unknown {
    return this.hooks.persistentLoad(pid);
  }

  build(target: unknown, state: unknown): void {
    // Torch tensors and parameters receive empty or irrelevant state here; dicts get attributes.
    if (target instanceof PyDict || target instanceof PyObject) target.state = state;
  }

  run(): unknown {
    while (this.result === null) {
      if (++this.ops > this.limits.maxOps) this.fail(`more than ${this.limits.maxOps} opcodes: refused`);
      const opcode = this.u8();
      const op = OPCODES[opcode];
      if (!op) {
        this.pos--;
        const printable = opcode >= 0x20 && opcode < 0x7f ? ` '${String.fromCharCode(opcode)}'` : '';
        this.fail(`unsupported opcode 0x${opcode.toString(16).padStart(2, '0')}${printable}`);
      }
      op(this);
    }
    return this.result.value;
  }
}

type Op = (m: Machine) => void;

const tuple = (n: number): Op => (m) => {
  const items = new Array<unknown>(n);
  for (let i = n - 1; i >= 0; i--) items[i] = m.pop();
  m.push(items);
};

/** Protocol 0 encodes small ints as `I01\n` (True) / `I00\n` (False); otherwise a decimal. */
function parseTextInt(m: Machine, text: string): unknown {
  if (text === '01') return true;
  if (text === '00') return false;
  const digits = text.endsWith('L') ? text.slice(0, -1) : text;
  if (!/^[-+]?\d+$/.test(digits)) m.fail(`bad integer literal ${JSON.stringify(text)}`);
  const big = BigInt(digits);
  return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
}

/** One entry per opcode byte (pickletools' names). Opcodes not listed are rejected with their byte value. */
const OPCODES: Record<number, Op> = {
  0x80 /* PROTO */: (m) => {
    const protocol = m.u8();
    if (protocol > HIGHEST_PROTOCOL) m.fail(`pickle protocol ${protocol} is newer than ${HIGHEST_PROTOCOL}`);
  },
  0x95 /* FRAME */: (m) => void m.u64(),
  0x2e /* STOP */: (m) => {
    m.result = { value: m.pop() };
  },
  0x28 /* MARK */: (m) => m.mark(),
  0x30 /* POP */: (m) => void m.pop(),
  0x31 /* POP_MARK */: (m) => void m.popMark(),
  0x32 /* DUP */: (m) => m.push(m.top()),

  0x4e /* NONE */: (m) => m.push(null),
  0x88 /* NEWTRUE */: (m) => m.push(true),
  0x89 /* NEWFALSE */: (m) => m.push(false),
  0x4a /* BININT */: (m) => m.push(m.i32()),
  0x4b /* BININT1 */: (m) => m.push(m.u8()),
  0x4d /* BININT2 */: (m) => m.push(m.u16()),
  0x8a /* LONG1 */: (m) => m.push(m.long(m.u8())),
  0x8b /* LONG4 */: (m) => m.push(m.long(m.u32())),
  0x49 /* INT */: (m) => m.push(parseTextInt(m, m.line())),
  0x4c /* LONG */: (m) => m.push(parseTextInt(m, m.line())),
  0x47 /* BINFLOAT */: (m) => m.push(m.f64be()),
  0x46 /* FLOAT */: (m) => m.push(Number.parseFloat(m.line())),

  0x58 /* BINUNICODE */: (m) => m.push(m.text(m.u32())),
  0x8c /* SHORT_BINUNICODE */: (m) => m.push(m.text(m.u8())),
  0x8d /* BINUNICODE8 */: (m) => m.push(m.text(m.u64())),
  0x55 /* SHORT_BINSTRING */: (m) => m.push(latin1.decode(m.raw(m.u8()))),
  0x54 /* BINSTRING */: (m) => m.push(latin1.decode(m.raw(m.u32()))),
  0x43 /* SHORT_BINBYTES */: (m) => m.push(m.raw(m.u8()).slice()),
  0x42 /* BINBYTES */: (m) => m.push(m.raw(m.u32()).slice()),
  0x8e /* BINBYTES8 */: (m) => m.push(m.raw(m.u64()).slice()),
  0x96 /* BYTEARRAY8 */: (m) => m.push(m.raw(m.u64()).slice()),

  0x29 /* EMPTY_TUPLE */: (m) => m.push([]),
  0x85 /* TUPLE1 */: tuple(1),
  0x86 /* TUPLE2 */: tuple(2),
  0x87 /* TUPLE3 */: tuple(3),
  0x74 /* TUPLE */: (m) => m.push(m.popMark()),
  0x5d /* EMPTY_LIST */: (m) => m.push([]),
  0x6c /* LIST */: (m) => m.push(m.popMark()),
  0x61 /* APPEND */: (m) => {
    const item = m.pop();
    m.appendItems(m.top(), [item]);
  },
  0x65 /* APPENDS */: (m) => {
    const items = m.popMark();
    m.appendItems(m.top(), items);
  },
  0x7d /* EMPTY_DICT */: (m) => m.push(new PyDict()),
  0x64 /* DICT */: (m) => {
    const dict = new PyDict();
    m.setItems(dict, m.popMark());
    m.push(dict);
  },
  0x73 /* SETITEM */: (m) => {
    const value = m.pop();
    const key = m.pop();
    m.setItems(m.top(), [key, value]);
  },
  0x75 /* SETITEMS */: (m) => {
    const pairs = m.popMark();
    m.setItems(m.top(), pairs);
  },
  0x8f /* EMPTY_SET */: (m) => m.push([]),
  0x90 /* ADDITEMS */: (m) => {
    const items = m.popMark();
    m.appendItems(m.top(), items);
  },
  0x91 /* FROZENSET */: (m) => m.push(m.popMark()),

  0x71 /* BINPUT */: (m) => m.put(m.u8()),
  0x72 /* LONG_BINPUT */: (m) => m.put(m.u32()),
  0x70 /* PUT */: (m) => m.put(Number(parseTextInt(m, m.line()))),
  0x94 /* MEMOIZE */: (m) => m.memoize(),
  0x68 /* BINGET */: (m) => m.get(m.u8()),
  0x6a /* LONG_BINGET */: (m) => m.get(m.u32()),
  0x67 /* GET */: (m) => m.get(Number(parseTextInt(m, m.line()))),

  0x63 /* GLOBAL */: (m) => {
    const module = m.line();
    m.push(new PyGlobal(module, m.line()));
  },
  0x93 /* STACK_GLOBAL */: (m) => {
    const name = m.pop();
    const module = m.pop();
    if (typeof module !== 'string' || typeof name !== 'string') return m.fail('STACK_GLOBAL needs two strings');
    m.push(new PyGlobal(module, name));
  },
  0x52 /* REDUCE */: (m) => {
    const args = m.pop();
    const fn = m.pop();
    if (!Array.isArray(args)) return m.fail('REDUCE arguments are not a tuple');
    m.push(m.call(fn, args));
  },
  0x81 /* NEWOBJ */: (m) => {
    const args = m.pop();
    const cls = m.pop();
    m.push(m.call(cls, Array.isArray(args) ? args : [args]));
  },
  0x92 /* NEWOBJ_EX */: (m) => {
    m.pop(); // keyword arguments: no modelled class takes any
    const args = m.pop();
    const cls = m.pop();
    m.push(m.call(cls, Array.isArray(args) ? args : [args]));
  },
  0x62 /* BUILD */: (m) => {
    const state = m.pop();
    m.build(m.top(), state);
  },
  0x51 /* BINPERSID */: (m) => {
    const pid = m.pop();
    m.push(m.persistentLoad(pid));
  },
  0x50 /* PERSID */: (m) => m.push(m.persistentLoad(m.line())),
};

/** Human words for a pickled value's type, for error messages. */
export function describePickled(value: unknown): string {
  if (value === null) return 'None';
  if (value instanceof PyDict) return 'dict';
  if (value instanceof PyGlobal) return `reference to ${value.qualifiedName}`;
  if (value instanceof PyObject) {
    return value.callable instanceof PyGlobal ? `${value.callable.qualifiedName} object` : 'object';
  }
  if (Array.isArray(value)) return 'list/tuple';
  if (value instanceof Uint8Array) return 'bytes';
  const names: Record<string, string> = { boolean: 'bool', number: 'number', bigint: 'int', string: 'str' };
  return names[typeof value] ?? typeof value;
}

/** Run the pickle in `bytes` and return its top-level object. Throws WeightsError naming `file`. */
export function unpickle(bytes: Uint8Array, file: string, hooks: UnpickleHooks, limits: PickleLimits = PICKLE_LIMITS): unknown {
  return unpickleAt(bytes, 0, file, hooks, limits).value;
}

/**
 * Run the pickle starting at byte `start` and return its object and the byte after its STOP: torch's legacy format
 * writes several pickles one after the other. Throws WeightsError naming `file`.
 */
export function unpickleAt(
  bytes: Uint8Array,
  start: number,
  file: string,
  hooks: UnpickleHooks,
  limits: PickleLimits = PICKLE_LIMITS,
): { value: unknown; end: number } {
  const machine = new Machine(bytes, file, hooks, start, limits);
  const value = machine.run();
  return { value, end: machine.position };
}
