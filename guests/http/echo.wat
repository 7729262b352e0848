;; Answers itself (next=0): copies the request body to the response body through a 3-byte buffer
;; (read_body streaming, several write_body calls), puts the request header names (count_len) in
;; x-names-count / x-names, and answers 202 with content-type text/plain.
(module
  (import "http_handler" "read_body" (func $read_body (param i32 i32 i32) (result i64)))
  (import "http_handler" "write_body" (func $write_body (param i32 i32 i32)))
  (import "http_handler" "get_header_names" (func $get_header_names (param i32 i32 i32) (result i64)))
  (import "http_handler" "set_header_value" (func $set_header_value (param i32 i32 i32 i32 i32)))
  (import "http_handler" "set_status_code" (func $set_status_code (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "content-type")
  (data (i32.const 16) "text/plain")
  (data (i32.const 32) "x-names-count")
  (data (i32.const 48) "x-names")
  (func $digit (param $n i32) (result i32)
    (i32.store8 (i32.const 64) (i32.add (i32.const 48) (local.get $n))) (i32.const 64))
  (func (export "handle_request") (result i64)
    (local $r i64) (local $cl i64) (local $len i32) (local $i i32)
    (block $done
      (loop $more
        (local.set $r (call $read_body (i32.const 0) (i32.const 1024) (i32.const 3)))
        (if (i32.wrap_i64 (local.get $r))
          (then (call $write_body (i32.const 1) (i32.const 1024) (i32.wrap_i64 (local.get $r)))))
        (br_if $done (i64.ne (i64.shr_u (local.get $r) (i64.const 32)) (i64.const 0)))
        (br $more)))
    ;; names: first ask with buf_limit 0 (nothing written), then read into 2048
    (local.set $cl (call $get_header_names (i32.const 0) (i32.const 2048) (i32.const 0)))
    (local.set $len (i32.wrap_i64 (local.get $cl)))
    (drop (call $get_header_names (i32.const 0) (i32.const 2048) (local.get $len)))
    ;; NUL -> ',' (the trailing one stays out of the value)
    (local.set $i (i32.const 0))
    (block $end (loop $scan
      (br_if $end (i32.ge_u (local.get $i) (local.get $len)))
      (if (i32.eqz (i32.load8_u (i32.add (i32.const 2048) (local.get $i))))
        (then (i32.store8 (i32.add (i32.const 2048) (local.get $i)) (i32.const 44))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $scan)))
    (call $set_header_value (i32.const 1) (i32.const 48) (i32.const 7) (i32.const 2048) (i32.sub (local.get $len) (i32.const 1)))
    (call $set_header_value (i32.const 1) (i32.const 32) (i32.const 13)
      (call $digit (i32.wrap_i64 (i64.shr_u (local.get $cl) (i64.const 32)))) (i32.const 1))
    (call $set_header_value (i32.const 1) (i32.const 0) (i32.const 12) (i32.const 16) (i32.const 10))
    (call $set_status_code (i32.const 202))
    (i64.const 0))
  (func (export "handle_response") (param i32 i32)))
