;; badimport (hostile): imports env.nope, which no host provides.
(module
  (import "env" "nope" (func $nope))
  (memory (export "memory") 1)
  (func (export "_start") (call $nope)))
