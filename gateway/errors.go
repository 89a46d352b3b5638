package gateway

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/valyala/fasthttp"
)

// Error is a request failure with the HTTP status it maps to and a message
// safe to show the client. Internal causes stay in Err (logged, never sent).
type Error struct {
	Status int
	Msg    string
	Err    error
	// RetryAfter, in seconds, is sent as Retry-After when positive (429, 503).
	RetryAfter int
	// Allow is sent as Allow when set (405).
	Allow string
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("gateway: %d %s: %v", e.Status, e.Msg, e.Err)
	}
	return fmt.Sprintf("gateway: %d %s", e.Status, e.Msg)
}

func (e *Error) Unwrap() error { return e.Err }

func errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Msg: fmt.Sprintf(format, args...)}
}

// msgNotHTTP answers bytes that cannot start an HTTP request (a TLS
// handshake on the plain port, binary), on the event loops and fasthttp.
const msgNotHTTP = "not an HTTP/1.1 request"

type errorBody struct {
	Error  string `json:"error"`
	Status int    `json:"status"`
}

// writeError answers with the JSON error body {"error": ..., "status": N}.
func writeError(ctx *fasthttp.RequestCtx, e *Error) {
	body := errorJSON(e)
	ctx.Response.Reset()
	ctx.SetStatusCode(e.Status)
	ctx.SetContentType("application/json")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	if e.RetryAfter > 0 {
		ctx.Response.Header.Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	if e.Allow != "" {
		ctx.Response.Header.Set("Allow", e.Allow)
	}
	ctx.SetBody(body)
}

// errorJSON is e's JSON error body, with a trailing newline.
func errorJSON(e *Error) []byte {
	body, _ := json.Marshal(errorBody{Error: e.Msg, Status: e.Status})
	return append(body, '\n')
}
