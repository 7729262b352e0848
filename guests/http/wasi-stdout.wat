;; Imports WASI (as TinyGo -target=wasi guests do): writes to stdout and stderr in handle_request, which
;; the host sends to its log, then continues.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "\10\00\00\00\0e\00\00\00")
  (data (i32.const 8) "\20\00\00\00\0d\00\00\00")
  (data (i32.const 16) "hello stdout!\n")
  (data (i32.const 32) "hello stderr\n")
  (func (export "_start"))
  (func (export "handle_request") (result i64)
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 64)))
    (drop (call $fd_write (i32.const 2) (i32.const 8) (i32.const 1) (i32.const 64)))
    (i64.const 1))
  (func (export "handle_response") (param i32 i32)))
