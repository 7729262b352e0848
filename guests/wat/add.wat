;; add: the `exports` ABI example: add(i32, i32) -> i32 and add64(i64, i64) -> i64.
(module
  (func (export "add") (param i32 i32) (result i32)
    (i32.add (local.get 0) (local.get 1)))
  (func (export "add64") (param i64 i64) (result i64)
    (i64.add (local.get 0) (local.get 1)))
  (func (export "divide") (param i32 i32) (result i32)
    ;; traps on division by zero: exercises 'trap' through the exports ABI
    (i32.div_s (local.get 0) (local.get 1))))
