package accesslog

import (
	"fmt"
	"io"
	"os"
)

// file is an output file that can be reopened at the same path, as
// logrotate's postrotate expects (rename the file, signal, and the new
// lines go to a new file of that name). Used by the writer goroutine only.
type file struct {
	path string
	f    *os.File
}

func openFile(path string) (*file, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("accesslog: %w", err)
	}
	return &file{path: path, f: f}, nil
}

func (f *file) Write(b []byte) (int, error) { return f.f.Write(b) }

// reopen opens the path again and closes the old file; on error the old
// file stays in use.
func (f *file) reopen() error {
	nf, err := os.OpenFile(f.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("accesslog: reopen: %w", err)
	}
	old := f.f
	f.f = nf
	return old.Close()
}

func (f *file) Close() error { return f.f.Close() }

// Open starts a Logger writing to cfg.Output: "stdout", "stderr" or a file
// (created if missing, appended to, mode 0640), which Reopen reopens.
func Open(cfg Config) (*Logger, error) {
	var w io.Writer
	var out *file
	switch cfg.Output {
	case "stdout":
		w = os.Stdout
	case "stderr":
		w = os.Stderr
	default:
		f, err := openFile(cfg.Output)
		if err != nil {
			return nil, err
		}
		w, out = f, f
	}
	return start(cfg, w, out), nil
}
