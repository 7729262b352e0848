;; row bomb (hostile): prints `{}` lines forever, ignoring errors: a 1-byte event becomes millions of
;; records unless the output limit (limits.maxStdout) and the record limit stop it.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (func $fill (param $i i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (i32.const 65533)))
      (i32.store (i32.add (i32.const 65536) (local.get $i)) (i32.const 0x000a7d7b)) ;; "{}\n" + one byte overwritten next
      (local.set $i (i32.add (local.get $i) (i32.const 3)))
      (br $next))))
  (func (export "_start")
    (call $fill (i32.const 0))
    (i32.store (i32.const 0) (i32.const 65536))
    (i32.store (i32.const 4) (i32.const 65535)) ;; 21845 whole lines
    (loop $forever
      (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
      (br $forever))))
