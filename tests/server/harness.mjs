// harness.mjs - the check harness of the node clients (client.mjs, srv15.mjs, srvtools.mjs).
// Each check prints one "ok   name" or "FAIL name -- detail" line, which the Python test
// that runs the client turns into one check of its own; a group that throws is one failure
// named after the group; finish() exits 1 when anything failed.
let failures = 0;

export function check(name, ok, detail = "") {
  console.log((ok ? "ok   " : "FAIL ") + name + (ok || !detail ? "" : " -- " + detail));
  if (!ok) failures++;
}

export async function run(name, fn) {
  try {
    await fn();
  } catch (e) {
    check(name, false, `threw ${e?.constructor?.name}: ${String(e?.message).slice(0, 300)}`);
  }
}

// A value for a failure's detail: its JSON, cut short (undefined stays "undefined").
export const show = (s) => String(JSON.stringify(s)).slice(0, 200);

export function finish() {
  process.exit(failures ? 1 : 0);
}
