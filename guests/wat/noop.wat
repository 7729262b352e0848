;; noop: the smallest WASI command (the per-event benchmark's guest): does nothing and exits 0.
(module
  (memory (export "memory") 1)
  (func (export "_start")))
