package resize

import "errors"

// HTTP statuses used by Error. resize imports no HTTP package; these are the
// RFC 9110 codes the gateway answers with.
const (
	statusOK                   = 200
	statusBadRequest           = 400
	statusUnsupportedMediaType = 415
	statusUnprocessableEntity  = 422
	statusTooManyRequests      = 429
	statusInternalServerError  = 500
	statusServiceUnavailable   = 503
)

// Kinds of *Error, for errors.Is: errors.Is(err, ErrTooLarge) holds for an
// *Error of that kind whatever its detail. They say what went wrong;
// Error.Status says how the gateway should answer.
var (
	// ErrBadSpec: a size spec or format parameter could not be parsed.
	ErrBadSpec = errors.New("resize: bad spec")
	// ErrTooLarge: a requested size or a source image exceeds a limit.
	ErrTooLarge = errors.New("resize: too large")
	// ErrUnsupported: the source is not a JPEG, PNG, WebP or AVIF image.
	ErrUnsupported = errors.New("resize: unsupported image format")
	// ErrCorrupt: the source claims a supported format but cannot be read.
	ErrCorrupt = errors.New("resize: corrupt image")
	// ErrBusy: admission control refused or timed out the request.
	ErrBusy = errors.New("resize: busy")
)

// Error is an error that maps to an HTTP response. Msg is public: it may be
// shown to clients and never contains internals (paths, libvips messages);
// Err carries the detail for logs and errors.Is/As. Error is returned as a
// pointer.
type Error struct {
	// Status is the HTTP status the gateway should answer with.
	Status int
	// Msg is the public, lowercase message without the "resize: " prefix.
	Msg string
	// Err is the cause, often one of the Err* sentinels wrapped with detail.
	Err error
	// RetryAfter, when positive, is a Retry-After hint in seconds (429).
	RetryAfter int

	kind error // one of the Err* kinds, matched by Is
}

// Error returns "resize: <msg>: <cause>".
func (e *Error) Error() string {
	s := "resize: " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is e's kind (ErrBadSpec, ErrTooLarge, …).
func (e *Error) Is(target error) bool { return e.kind != nil && target == e.kind }

// StatusOf returns the HTTP status an error maps to: the Status of the first
// *Error in its chain, 200 for nil, 500 otherwise.
func StatusOf(err error) int {
	if err == nil {
		return statusOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return statusInternalServerError
}

// badRequest is a 400: the client asked for something malformed or over a
// limit it controls (size spec, format parameter).
func badRequest(kind error, msg string, err error) *Error {
	return &Error{Status: statusBadRequest, Msg: msg, Err: err, kind: kind}
}

// unsupported is a 415: the source is not an image format resize handles.
func unsupported(kind error, msg string, err error) *Error {
	return &Error{Status: statusUnsupportedMediaType, Msg: msg, Err: err, kind: kind}
}

// unprocessable is a 422: the source is corrupt or over a source limit
// (bytes, pixels), the imgproxy convention for sources the client cannot fix.
func unprocessable(kind error, msg string, err error) *Error {
	return &Error{Status: statusUnprocessableEntity, Msg: msg, Err: err, kind: kind}
}

// tooMany is a 429 with a Retry-After hint.
func tooMany(msg string, err error, retryAfter int) *Error {
	return &Error{Status: statusTooManyRequests, Msg: msg, Err: err, RetryAfter: retryAfter, kind: ErrBusy}
}
