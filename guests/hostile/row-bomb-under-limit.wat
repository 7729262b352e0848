;; row-bomb-under-limit (hostile): ignores its event and prints 48 MiB of `{}` lines (16.7 M empty records),
;; just under the default 50 MiB stdout limit, so only the record limit (limits.maxRecords) stops it.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (func (export "_start")
    (local $i i32)
    ;; 21,845 x "{}\n" = 65,535 bytes at offset 1024
    (block $done
      (loop $fill
        (br_if $done (i32.ge_u (local.get $i) (i32.const 21845)))
        (i32.store8 (i32.add (i32.const 1024) (i32.mul (local.get $i) (i32.const 3))) (i32.const 123))
        (i32.store8 (i32.add (i32.const 1025) (i32.mul (local.get $i) (i32.const 3))) (i32.const 125))
        (i32.store8 (i32.add (i32.const 1026) (i32.mul (local.get $i) (i32.const 3))) (i32.const 10))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $fill)))
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const 65535))
    (local.set $i (i32.const 0))
    ;; 768 x 65,535 bytes = 50,330,880 bytes < 50 MiB
    (block $out
      (loop $write
        (br_if $out (i32.ge_u (local.get $i) (i32.const 768)))
        (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $write)))))
