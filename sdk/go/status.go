package px

import "fmt"

// Status is a host function's status code (docs/wasm-abi.md, "Status
// codes"). Every negative status a host import returns reaches Go code as
// a Status error.
type Status int32

const (
	OK              Status = 0
	ErrInternal     Status = -1
	ErrNotFound     Status = -2
	ErrTimeout      Status = -3
	ErrInvalid      Status = -4
	ErrNotPermitted Status = -5
	ErrResource     Status = -6
	ErrNoProc       Status = -7
	ErrNotSupported Status = -8
	ErrConflict     Status = -9
	ErrRemote       Status = -10
)

var statusNames = map[Status]string{
	OK:              "ok",
	ErrInternal:     "internal",
	ErrNotFound:     "not_found",
	ErrTimeout:      "timeout",
	ErrInvalid:      "invalid",
	ErrNotPermitted: "not_permitted",
	ErrResource:     "resource",
	ErrNoProc:       "no_proc",
	ErrNotSupported: "not_supported",
	ErrConflict:     "conflict",
	ErrRemote:       "remote",
}

// Name is the status's short name, the ABI table's name in lower case
// without "ERR_": "not_found", "timeout", ... ("ok" for 0, "unknown" for
// a code the table does not have). The C and AssemblyScript SDKs use the
// same names, so error replies read alike in every language.
func (s Status) Name() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return "unknown"
}

func (s Status) Error() string {
	return fmt.Sprintf("plexspaces: %s (%d)", s.Name(), int32(s))
}

// RemoteError is what Ask returns when the asked actor answered with an
// error (ERR_REMOTE): Value is the error value it replied with.
type RemoteError struct {
	Value Raw
}

func (e *RemoteError) Error() string {
	if v, err := e.Value.Value(); err == nil {
		return fmt.Sprintf("plexspaces: remote: %v", v)
	}
	return "plexspaces: remote"
}

// Unwrap lets errors.Is(err, px.ErrRemote) hold.
func (e *RemoteError) Unwrap() error { return ErrRemote }

// StatusOf is the Status behind err: the status itself, ErrRemote for a
// RemoteError, OK for nil, and ErrInternal for any other error.
func StatusOf(err error) Status {
	switch e := err.(type) {
	case nil:
		return OK
	case Status:
		return e
	case *RemoteError:
		return ErrRemote
	}
	return ErrInternal
}

// StatusName is StatusOf(err).Name(): the name an app puts in an error
// reply such as {"error": "timeout"}.
func StatusName(err error) string { return StatusOf(err).Name() }

// check turns a host status into an error.
func check(rc int32) error {
	if rc < 0 {
		return Status(rc)
	}
	return nil
}

// check64 is check for the imports that return an i64 that is either a
// useful number (> 0 or >= 0) or a negative status.
func check64(rc int64) (int64, error) {
	if rc < 0 {
		return 0, Status(int32(rc))
	}
	return rc, nil
}
