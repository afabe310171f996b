// The plexspaces WASM example app in Go: one module, three roles
// ("counter", "agent", "crasher"), the same protocol as the C and
// AssemblyScript examples. Build: ./build.sh OUT.wasm
package main

import (
	"fmt"

	px "plexspaces.dev/sdk/go"
)

// main is not run: a c-shared module is a reactor, started by _initialize,
// which runs the package init functions below.
func main() {}

// ---- counter ----

type counter struct {
	Count int64 `msgpack:"count"`
}

type addArgs struct {
	N int64 `msgpack:"n"`
}

func counterInit(a *px.Actor[counter]) error {
	var args struct {
		Start int64 `msgpack:"start"`
	}
	if err := a.Args.Decode(&args); err != nil {
		return err
	}
	a.State.Count = args.Start
	return nil
}

func counterAdd(a *px.Actor[counter], m *px.Msg) px.Reply {
	var p addArgs
	if !decodeOr(m, &p, "n") {
		return px.ErrorName("invalid")
	}
	a.State.Count += p.N
	return px.Ok(px.Map{"count": a.State.Count})
}

func counterGet(a *px.Actor[counter], m *px.Msg) px.Reply {
	return px.Ok(px.Map{"count": a.State.Count})
}

// ---- agent ----

type agent struct {
	Name string `msgpack:"name"`
	ID   string `msgpack:"id"`
}

type A = px.Actor[agent]

func agentInit(a *A) error {
	var args struct {
		Name string `msgpack:"name"`
	}
	if err := a.Args.Decode(&args); err != nil {
		return err
	}
	if args.Name == "" {
		args.Name = "agent"
	}
	id, err := px.SelfID()
	if err != nil {
		id = a.ID // the id px_init was given
	}
	a.State = agent{Name: args.Name, ID: id}
	tmpl := []any{"agent", args.Name, nil}
	tuple := []any{"agent", args.Name, id}
	err = px.TSWriteIfAbsent(tmpl, tuple, 0)
	if err == px.ErrConflict {
		// A previous incarnation registered the name: point it at us.
		_, err = px.TSReplace(tmpl, tuple, 0)
	}
	if err != nil {
		// It still answers calls (e.g. on a node without a tuple space).
		px.Log(px.LevelWarn, fmt.Sprintf("agent %s: not registered in the tuple space: %s",
			args.Name, px.StatusName(err)))
	}
	return nil
}

// lookup is the id registered under name in the tuple space.
func lookup(name string) (string, error) {
	raw, err := px.TSRead([]any{"agent", name, nil}, px.TryOnce)
	if err == px.ErrTimeout {
		err = px.ErrNotFound // timeout 0 is one try: nothing matched
	}
	if err != nil {
		return "", err
	}
	var t []any
	if err := raw.Decode(&t); err != nil || len(t) < 3 {
		return "", px.ErrInvalid
	}
	id, ok := t[2].(string)
	if !ok {
		return "", px.ErrInvalid
	}
	return id, nil
}

// decodeOr decodes the payload into v and reports whether that worked and
// the payload is a map holding every key in need: a struct field that is
// simply absent would otherwise read as its zero value, where the
// protocol answers {"error": "invalid"} (as the C and AssemblyScript
// examples do).
func decodeOr(m *px.Msg, v any, need ...string) bool {
	if m.Decode(v) != nil {
		return false
	}
	if len(need) == 0 {
		return true
	}
	var keys map[string]px.Raw
	if m.Decode(&keys) != nil {
		return false
	}
	for _, k := range need {
		if _, ok := keys[k]; !ok {
			return false
		}
	}
	return true
}

var agentCalls = map[string]px.Handler[agent]{
	"whoami": func(a *A, m *px.Msg) px.Reply {
		return px.Ok(px.Map{"name": a.State.Name, "id": a.State.ID})
	},
	"lookup": func(a *A, m *px.Msg) px.Reply {
		var p struct {
			Name string `msgpack:"name"`
		}
		if !decodeOr(m, &p, "name") {
			return px.ErrorName("invalid")
		}
		id, err := lookup(p.Name)
		if err != nil {
			return px.ErrorOf(err) // "not_found" when no agent has that name
		}
		return px.Ok(px.Map{"id": id})
	},
	"ask_peer": func(a *A, m *px.Msg) px.Reply {
		var p struct {
			Name    string `msgpack:"name"`
			Type    string `msgpack:"type"`
			Payload px.Raw `msgpack:"payload"`
		}
		if !decodeOr(m, &p, "name", "type") {
			return px.ErrorName("invalid")
		}
		id, err := lookup(p.Name)
		if err != nil {
			return px.ErrorOf(err)
		}
		r, err := px.Ask(id, p.Type, p.Payload, 2000)
		if err != nil {
			return px.ErrorOf(err)
		}
		return px.Ok(px.Map{"reply": r})
	},
	"ask_id": func(a *A, m *px.Msg) px.Reply {
		var p struct {
			ID      string `msgpack:"id"`
			Type    string `msgpack:"type"`
			Payload px.Raw `msgpack:"payload"`
		}
		if !decodeOr(m, &p, "id", "type") {
			return px.ErrorName("invalid")
		}
		r, err := px.Ask(p.ID, p.Type, p.Payload, 2000)
		if err != nil {
			return px.ErrorOf(err)
		}
		return px.Ok(px.Map{"reply": r})
	},
	"kv_incr": func(a *A, m *px.Msg) px.Reply {
		p := struct {
			Key string `msgpack:"key"`
			By  int64  `msgpack:"by"`
		}{By: 1}
		if !decodeOr(m, &p, "key") {
			return px.ErrorName("invalid")
		}
		v, err := px.KVIncrement(p.Key, p.By)
		if err != nil {
			return px.ErrorOf(err)
		}
		return px.Ok(px.Map{"value": v})
	},
	"kv_put": func(a *A, m *px.Msg) px.Reply {
		var p struct {
			Key   string `msgpack:"key"`
			Value px.Raw `msgpack:"value"`
		}
		if !decodeOr(m, &p, "key", "value") {
			return px.ErrorName("invalid")
		}
		if err := px.KVPut(p.Key, p.Value, 0); err != nil {
			return px.ErrorOf(err)
		}
		return px.Ok(px.Map{"ok": true})
	},
	"kv_get": func(a *A, m *px.Msg) px.Reply {
		var p struct {
			Key string `msgpack:"key"`
		}
		if !decodeOr(m, &p, "key") {
			return px.ErrorName("invalid")
		}
		v, err := px.KVGet(p.Key)
		if err == px.ErrNotFound {
			return px.ErrorName("not_found")
		}
		if err != nil {
			return px.ErrorOf(err)
		}
		return px.Ok(px.Map{"value": v})
	},
	"sleep": func(a *A, m *px.Msg) px.Reply {
		var p struct {
			Ms int64 `msgpack:"ms"`
		}
		if !decodeOr(m, &p, "ms") {
			return px.ErrorName("invalid")
		}
		if err := px.Sleep(p.Ms); err != nil {
			return px.ErrorOf(err)
		}
		return px.Ok(px.Map{"slept": p.Ms})
	},
	"echo": func(a *A, m *px.Msg) px.Reply {
		return px.Ok(m.Payload) // the bytes as they came
	},
	"info": func(a *A, m *px.Msg) px.Reply {
		b, err := px.RandomBytes(16)
		if err != nil {
			return px.ErrorOf(err)
		}
		return px.Ok(px.Map{"now_ms": px.NowMs(), "random_len": len(b)})
	},
	"log": func(a *A, m *px.Msg) px.Reply {
		var p struct {
			Msg string `msgpack:"msg"`
		}
		if !decodeOr(m, &p, "msg") {
			return px.ErrorName("invalid")
		}
		if err := px.Log(px.LevelInfo, p.Msg); err != nil {
			return px.ErrorOf(err)
		}
		fmt.Println(p.Msg) // WASI fd_write to stdout
		return px.Ok(px.Map{"ok": true})
	},
	"metric": func(a *A, m *px.Msg) px.Reply {
		var p struct {
			Name  string  `msgpack:"name"`
			Delta float64 `msgpack:"delta"`
		}
		if !decodeOr(m, &p, "name") {
			return px.ErrorName("invalid")
		}
		if err := px.MetricsAdd(p.Name, p.Delta); err != nil {
			return px.ErrorOf(err)
		}
		return px.Ok(px.Map{"ok": true})
	},
	"fetch": func(a *A, m *px.Msg) px.Reply {
		var p struct {
			Link string `msgpack:"link"`
			Path string `msgpack:"path"`
		}
		if !decodeOr(m, &p, "link", "path") {
			return px.ErrorName("invalid")
		}
		r, err := px.HTTPFetch(p.Link, "GET", p.Path, nil)
		if err != nil {
			return px.ErrorOf(err)
		}
		return px.Ok(px.Map{"status": r.Status, "body": string(r.Body)})
	},
	"spawn_counter": func(a *A, m *px.Msg) px.Reply {
		id, err := px.Spawn("counter", px.Map{"start": 100})
		if err != nil {
			return px.ErrorOf(err)
		}
		return px.Ok(px.Map{"id": id})
	},
}

// ---- crasher ----

type crasher struct {
	Starts int64 `msgpack:"starts"`
}

type C = px.Actor[crasher]

// spins is written by the "spin" loop so the compiler keeps the loop.
var spins uint64

// hold keeps "grow" allocations reachable while they are touched.
var hold [][]byte

var crasherCalls = map[string]px.Handler[crasher]{
	"ping": func(a *C, m *px.Msg) px.Reply {
		return px.Ok(px.Map{"pong": true, "starts": a.State.Starts})
	},
	"crash": func(a *C, m *px.Msg) px.Reply {
		// A Go panic in a c-shared (library) wasip1 module: the runtime
		// prints the panic and the goroutines to stderr (fd_write) and then
		// aborts with the `unreachable` instruction (a library does not
		// proc_exit), so the actor crashes with {wasm_trap, unreachable}.
		panic("crasher: crash requested")
	},
	"spin": func(a *C, m *px.Msg) px.Reply {
		// Never returns: the host preempts it every time slice and traps
		// it with cpu_limit after max_run_ms.
		for spins != ^uint64(0) {
			spins++
			if spins == ^uint64(0)-1 {
				spins = 0
			}
		}
		return px.NoReply()
	},
	"grow": func(a *C, m *px.Msg) px.Reply {
		// Allocates n MiB one MiB at a time and touches every page. When
		// memory.grow fails at the instance's limit (it returns -1), the Go
		// runtime cannot recover from running out of memory: it prints
		// "fatal error: out of memory" to stderr and traps with
		// `unreachable`, so the actor crashes with {wasm_trap, unreachable}
		// and is restarted; the host is unharmed. So the reply is
		// {"ok": true}, or a trap: never {"ok": false}.
		var p struct {
			MB int64 `msgpack:"mb"`
		}
		if !decodeOr(m, &p, "mb") || p.MB < 0 {
			return px.Ok(px.Map{"ok": false})
		}
		hold = nil
		for i := int64(0); i < p.MB; i++ {
			b := make([]byte, 1<<20)
			for j := 0; j < len(b); j += 4096 {
				b[j] = 1
			}
			hold = append(hold, b)
		}
		hold = nil
		return px.Ok(px.Map{"ok": true})
	},
}

func init() {
	px.Register("counter", "", px.Behavior[counter]{
		Init: counterInit,
		Call: map[string]px.Handler[counter]{"add": counterAdd, "get": counterGet},
		Cast: map[string]px.Handler[counter]{
			"add": func(a *px.Actor[counter], m *px.Msg) px.Reply {
				var p addArgs
				if m.Decode(&p) == nil {
					a.State.Count += p.N
				}
				return px.NoReply()
			},
		},
	})
	px.Register("agent", "", px.Behavior[agent]{Init: agentInit, Call: agentCalls})
	px.Register("crasher", "", px.Behavior[crasher]{
		Init: func(a *C) error {
			n, err := px.KVIncrement("crasher_starts", 1)
			if err != nil {
				n = -1 // no kv store on this node
			}
			a.State.Starts = n
			return nil
		},
		Call: crasherCalls,
	})
}
