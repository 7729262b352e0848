;; Spec violation: sets a response header in handle_response without enabling buffer_response.
(module
  (import "http_handler" "set_header_value" (func $set (param i32 i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "x-late")
  (func (export "handle_request") (result i64) (i64.const 1))
  (func (export "handle_response") (param i32 i32)
    (call $set (i32.const 1) (i32.const 0) (i32.const 6) (i32.const 0) (i32.const 1))))
