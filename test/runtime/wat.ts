// Tiny test guests compiled inline from WAT.
import wabtInit from 'wabt';

let wabt: Awaited<ReturnType<typeof wabtInit>> | undefined;

export async function watBytes(text: string): Promise<Uint8Array<ArrayBuffer>> {
  wabt ??= await wabtInit();
  const m = wabt.parseWat('test.wat', text);
  try {
    return new Uint8Array(m.toBinary({}).buffer);
  } finally {
    m.destroy();
  }
}

/**
 * Export-ABI guest used by the pool tests:
 * add(a,b); count() bumps a global and returns it (1 on a fresh instance); spin() never returns;
 * work(n) loops n times and returns n.
 */
export const poolGuestWat = `(module
  (memory (export "memory") 1)
  (global $g (mut i32) (i32.const 0))
  (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
  (func (export "count") (result i32)
    global.get $g i32.const 1 i32.add global.set $g global.get $g)
  (func (export "spin") (loop (br 0)))
  (func (export "work") (param $n i32) (result i32) (local $i i32)
    (block (loop
      local.get $i local.get $n i32.ge_u br_if 1
      local.get $i i32.const 1 i32.add local.set $i
      br 0))
    local.get $n))`;
