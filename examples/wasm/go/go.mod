module plexspaces.dev/examples/wasm/go

go 1.24

require plexspaces.dev/sdk/go v0.0.0

require (
	github.com/vmihailenco/msgpack/v5 v5.4.1 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
)

replace plexspaces.dev/sdk/go => ../../../sdk/go
