;; A minimal plexspaces ABI v1 guest written by hand, for the sandbox tests
;; of test_wasm.py. px_handle picks what to do by the first byte of the
;; message type and replies with a MessagePack constant from its data:
;;   "hello"      -> true
;;   "log_oob"    -> true if plexspaces.log with a buffer past the end of
;;                   memory returned -4 (ERR_INVALID), else false
;;   "read_oob"   -> loads past the end of memory: traps (out of bounds)
;;   "path_open"  -> the errno of WASI path_open on fd 3 (nothing is
;;                   preopened), as a positive fixint
;;   "write_out"  -> the errno of WASI fd_write of a line to fd 1
;;   "n_random"   -> true if plexspaces.random of 70000 bytes (more than
;;                   the 65536 allowed) returned -6 (ERR_RESOURCE)
;;   "zero_div"   -> divides by zero: traps
;;   "stack"      -> recurses without end: traps (stack overflow)
;;   "exit"       -> WASI proc_exit(3)
(module
  (import "plexspaces" "log" (func $log (param i32 i32 i32) (result i32)))
  (import "plexspaces" "reply" (func $reply (param i32 i32) (result i32)))
  (import "plexspaces" "random" (func $random (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  ;; Two pages and no more: every address >= 131072 is outside.
  (memory (export "memory") 2 2)
  (data (i32.const 0) "\c3")                       ;; msgpack true
  (data (i32.const 1) "\c2")                       ;; msgpack false
  (data (i32.const 16) "sandbox-stdout-7f3a\n")    ;; 20 bytes
  (data (i32.const 64) "\10\00\00\00\14\00\00\00") ;; iovec {16, 20}
  (data (i32.const 100) "secret.txt")              ;; 10 bytes

  (func (export "px_abi_version") (result i32) (i32.const 1))
  ;; Every host buffer goes to 4096.. (the host asks for one at a time).
  (func (export "px_alloc") (param $n i32) (result i32)
    (if (result i32) (i32.gt_u (local.get $n) (i32.const 61440))
      (then (i32.const 0))
      (else (i32.const 4096))))
  (func (export "px_free") (param i32 i32))
  (func (export "px_init") (param i32 i32) (result i32) (i32.const 0))
  (func (export "px_get_state") (result i64) (i64.const 0))
  (func (export "px_set_state") (param i32 i32) (result i32) (i32.const 0))

  ;; Replies with the errno in $e as a positive fixint (errno < 128).
  (func $reply_errno (param $e i32) (result i32)
    (i32.store8 (i32.const 300) (local.get $e))
    (drop (call $reply (i32.const 300) (i32.const 1)))
    (i32.const 0))

;; Never returns: every call adds a frame.
  (func $recurse (param $n i32) (result i32)
    (i32.add (call $recurse (i32.add (local.get $n) (i32.const 1)))
             (i32.const 1)))

  (func (export "px_handle")
    (param $kind i32) (param $from i32) (param $from_len i32)
    (param $type i32) (param $type_len i32)
    (param $payload i32) (param $payload_len i32) (result i32)
    (local $c i32)
    (local.set $c (i32.load8_u (local.get $type)))
    ;; 'l': log with (131070, 100), which ends past the memory
    (if (i32.eq (local.get $c) (i32.const 0x6c))
      (then
        (if (i32.eq (call $log (i32.const 1) (i32.const 131070) (i32.const 100))
                    (i32.const -4))
          (then (drop (call $reply (i32.const 0) (i32.const 1))))
          (else (drop (call $reply (i32.const 1) (i32.const 1)))))
        (return (i32.const 0))))
    ;; 'r': read past the memory
    (if (i32.eq (local.get $c) (i32.const 0x72))
      (then (drop (i32.load (i32.const 140000))) (return (i32.const 0))))
    ;; 'p': path_open(fd 3, dirflags 0, "secret.txt", oflags 0, rights, 0, fdflags 0, out 400)
    (if (i32.eq (local.get $c) (i32.const 0x70))
      (then (return (call $reply_errno
        (call $path_open (i32.const 3) (i32.const 0) (i32.const 100) (i32.const 10)
                         (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0)
                         (i32.const 400))))))
    ;; 'w': fd_write(1, iovec at 64, 1 iovec, nwritten at 80)
    (if (i32.eq (local.get $c) (i32.const 0x77))
      (then (return (call $reply_errno
        (call $fd_write (i32.const 1) (i32.const 64) (i32.const 1) (i32.const 80))))))
    ;; 'n': random with a length past the 65536 limit (the buffer,
    ;; 50000..120000, is inside memory)
    (if (i32.eq (local.get $c) (i32.const 0x6e))
      (then
        (if (i32.eq (call $random (i32.const 50000) (i32.const 70000)) (i32.const -6))
          (then (drop (call $reply (i32.const 0) (i32.const 1))))
          (else (drop (call $reply (i32.const 1) (i32.const 1)))))
        (return (i32.const 0))))
    ;; 'z': 1 / (kind - 1); kind is 1 for a call
    (if (i32.eq (local.get $c) (i32.const 0x7a))
      (then (return (i32.div_u (i32.const 1)
                               (i32.sub (local.get $kind) (i32.const 1))))))
    ;; 's': unbounded recursion
    (if (i32.eq (local.get $c) (i32.const 0x73))
      (then (return (call $recurse (i32.const 0)))))
    ;; 'e': proc_exit(3)
    (if (i32.eq (local.get $c) (i32.const 0x65))
      (then (call $proc_exit (i32.const 3)) (return (i32.const 0))))
    (drop (call $reply (i32.const 0) (i32.const 1)))
    (i32.const 0))
)
