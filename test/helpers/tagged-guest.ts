// A test guest whose one row names the module that handled the event (module swap tests).

/**
 * A WASI command that spins `iterations` times, then prints `{"guest":"<tag>"}` as its one row: the
 * row says which module handled the event, the spin keeps events in flight long enough to swap
 * under them.
 */
export function taggedGuestWat(tag: string, iterations = 0): string {
  const line = `{"guest":"${tag}"}\n`;
  return `(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) ${JSON.stringify(line)})
  (func (export "_start") (local $i i32)
    (block (loop
      local.get $i i32.const ${iterations} i32.ge_u br_if 1
      local.get $i i32.const 1 i32.add local.set $i
      br 0))
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const ${Buffer.byteLength(line)}))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))`;
}
