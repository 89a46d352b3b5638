package certs

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"go.uber.org/zap"
)

// certmagic's zap entries arrive in slog with their level, logger name
// and fields; levels below the handler's are dropped.
func TestZapToSlog(t *testing.T) {
	var buf bytes.Buffer
	zl := zapToSlog(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))).Named("obtain")
	zl.With(zap.String("identifier", "example.com")).Error("could not get certificate", zap.Error(errors.New("boom")), zap.Int("attempt", 2))
	zl.Debug("dropped")
	got := buf.String()
	for _, want := range []string{"level=ERROR", `msg="certmagic: could not get certificate"`, "logger=obtain",
		"identifier=example.com", "error=boom", "attempt=2"} {
		if !strings.Contains(got, want) {
			t.Errorf("log %q lacks %q", got, want)
		}
	}
	if strings.Contains(got, "dropped") {
		t.Errorf("a debug entry passed an info handler: %q", got)
	}
}
