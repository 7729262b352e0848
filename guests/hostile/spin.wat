;; endless loop (hostile): spins forever; only the pool's wall-clock watchdog (limits.timeout) stops it.
(module
  (memory (export "memory") 1)
  (func (export "_start")
    (loop $forever (br $forever))))
