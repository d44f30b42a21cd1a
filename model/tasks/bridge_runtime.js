// The JSON bridge, JavaScript side (see bridge_runtime.py for the wire encoding). This text is
// appended to a candidate translation, in the same script, so it sees the candidate's top-level
// functions and consts by name; __WINGMAN_NAMES__ is replaced with the names to look for.
// The lookup runs in a scope that declares only __wingman-prefixed names, so direct eval finds
// the candidate's own function even when it is called `fs`, `decode` or `fn`.
;var __wingmanFn = (function () {
  for (const __wingmanName of __WINGMAN_NAMES__) {
    try {
      const __wingmanFound = eval(__wingmanName);
      if (typeof __wingmanFound === 'function') return __wingmanFound;
    } catch (__wingmanError) { /* not defined under this name */ }
    if (typeof module === 'object' && module.exports && typeof module.exports[__wingmanName] === 'function')
      return module.exports[__wingmanName];
  }
  return undefined;
})();
;(function __wingmanBridge(fn) {
  const fs = require('fs');
  const [inputsPath, resultsPath] = process.argv.slice(2);
  if (fn === undefined) {
    fs.appendFileSync(resultsPath, JSON.stringify({ missing: true }) + '\n');
    return;
  }
  const SAFE = 2 ** 53;
  function decode(w) {
    if (Array.isArray(w)) return w.map(decode);
    if (w === null || typeof w !== 'object') return w;
    switch (w.$t) {
      case 'tuple': return w.v.map(decode);
      case 'set': return new Set(w.v.map(decode));
      case 'dict': {
        const o = {};
        for (const [k, v] of w.v) o[String(decode(k))] = decode(v);
        return o;
      }
      case 'nan': return NaN;
      case 'inf': return w.sign * Infinity;
      case 'bigint': return Number(w.v);
      case 'bytes': return Uint8Array.from(w.v);
      default: return null;
    }
  }
  function encode(v, depth = 0, seen = new Set()) {
    if (depth > 40) return { $t: 'opaque', type: 'deep' };
    if (v === undefined) return { $t: 'undefined' };
    if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
    if (typeof v === 'number') {
      if (Number.isNaN(v)) return { $t: 'nan' };
      if (!Number.isFinite(v)) return { $t: 'inf', sign: v > 0 ? 1 : -1 };
      return Object.is(v, -0) ? 0 : v;
    }
    if (typeof v === 'bigint') return (v <= SAFE && v >= -SAFE) ? Number(v) : { $t: 'bigint', v: v.toString() };
    if (typeof v !== 'object') return { $t: 'opaque', type: typeof v };
    if (seen.has(v)) return { $t: 'opaque', type: 'cycle' };
    seen.add(v);
    const d = depth + 1;
    let out;
    if (Array.isArray(v)) out = Array.from(v, (x) => encode(x, d, seen));
    else if (v instanceof Set) out = { $t: 'set', v: Array.from(v, (x) => encode(x, d, seen)) };
    else if (v instanceof Map) out = { $t: 'dict', v: Array.from(v, ([k, x]) => [encode(k, d, seen), encode(x, d, seen)]) };
    else if (ArrayBuffer.isView(v)) out = Array.from(v, (x) => encode(x, d, seen));
    else if (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null)
      out = { $t: 'dict', v: Object.entries(v).map(([k, x]) => [k, encode(x, d, seen)]) };
    else out = { $t: 'opaque', type: (v.constructor && v.constructor.name) || 'object' };
    seen.delete(v);
    return out;
  }
  const inputs = JSON.parse(fs.readFileSync(inputsPath, 'utf8'));
  inputs.forEach((call, i) => {
    const args = call.args.map(decode);
    let row;
    try {
      const value = fn(...args);
      row = { i, ok: true, value: encode(value), args: args.map((a) => encode(a)) };
    } catch (e) {
      const name = (e && e.constructor && e.constructor.name) || typeof e;
      row = { i, ok: false, error: name, message: String(e && e.message !== undefined ? e.message : e).slice(0, 200) };
    }
    fs.appendFileSync(resultsPath, JSON.stringify(row) + '\n');  // a later input that hangs must not lose this one
  });
})(__wingmanFn);
