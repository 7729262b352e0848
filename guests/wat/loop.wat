;; loop (hostile): spins forever; only the pool's wall-clock watchdog can stop it.
(module
  (memory (export "memory") 1)
  (func (export "_start")
    (loop $forever (br $forever))))
