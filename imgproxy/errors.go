package imgproxy

import "fmt"

// HTTP statuses of Error (the package imports no HTTP package).
const (
	statusBadRequest = 400
	statusForbidden  = 403
	statusNotFound   = 404
)

// Error is a refused request: the status the gateway should answer with
// and a public message (it quotes only what the client sent, clipped).
type Error struct {
	Status int
	Msg    string
}

func (e *Error) Error() string { return fmt.Sprintf("imgproxy: %d %s", e.Status, e.Msg) }

func badRequest(format string, args ...any) *Error {
	return &Error{Status: statusBadRequest, Msg: fmt.Sprintf(format, args...)}
}

// notSupported is the answer to an option imgproxy knows and edgegate
// cannot honour: never ignored silently.
func notSupported(format string, args ...any) *Error {
	return &Error{Status: statusBadRequest, Msg: fmt.Sprintf(format, args...) + " not supported"}
}

// clip shortens client input quoted in messages.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
