;; Spec violation: read_body with buf_limit 0.
(module
  (import "http_handler" "read_body" (func $read_body (param i32 i32 i32) (result i64)))
  (memory (export "memory") 1)
  (func (export "handle_request") (result i64)
    (drop (call $read_body (i32.const 0) (i32.const 0) (i32.const 0)))
    (i64.const 1))
  (func (export "handle_response") (param i32 i32)))
