;; fd bomb (hostile): opens "." in the first preopened dir (fd 3) again and again without closing,
;; up to 1,000,000 times. The first refusal (e.g. ENFILE/EMFILE from the per-instance cap) is printed as
;; "open refused: errno N" on stderr and the guest exits with code 1; no preopen also ends there (EBADF).
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 32) ".")
  (data (i32.const 64) "open refused: errno   \n")
  (func (export "_start") (local $i i32) (local $err i32)
    (block $stop (loop $next
      (br_if $stop (i32.ge_u (local.get $i) (i32.const 1000000)))
      ;; path_open(fd 3, no follow, ".", oflags O_DIRECTORY, rights read, inheriting read, fdflags 0, -> fd at 16)
      (local.set $err (call $path_open (i32.const 3) (i32.const 0) (i32.const 32) (i32.const 1) (i32.const 2)
        (i64.const 0x4002) (i64.const 0x4002) (i32.const 0) (i32.const 16)))
      (if (local.get $err) (then
        ;; two decimal digits of the errno
        (i32.store8 (i32.const 84) (i32.add (i32.const 48) (i32.div_u (local.get $err) (i32.const 10))))
        (i32.store8 (i32.const 85) (i32.add (i32.const 48) (i32.rem_u (local.get $err) (i32.const 10))))
        (i32.store (i32.const 0) (i32.const 64))
        (i32.store (i32.const 4) (i32.const 23))
        (drop (call $fd_write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))
        (call $proc_exit (i32.const 1))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))))
