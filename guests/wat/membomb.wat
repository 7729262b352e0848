;; membomb (hostile): grows its memory 1 MiB at a time and touches every new page, forever.
;; Declares no maximum, so only the host's memory limit stops it (memory.grow returns -1, then it traps).
(module
  (memory (export "memory") 1)
  (func (export "_start")
    (local $old i32)
    (loop $more
      (local.set $old (memory.grow (i32.const 16)))
      (if (i32.eq (local.get $old) (i32.const -1)) (then unreachable))
      ;; write into the last new page so the memory is really committed
      (i32.store (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 4)) (i32.const 1))
      (br $more))))
