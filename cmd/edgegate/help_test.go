package main

import (
	"bytes"
	"flag"
	"io"
	"strings"
	"testing"
)

// edgegate --help, -h and help list every command with its one line.
func TestHelpListsEveryCommand(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"-help"}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 0 {
			t.Fatalf("%q: exit %d, stderr %s", args, code, errb.String())
		}
		for _, c := range commands() {
			if !strings.Contains(out.String(), "  "+c.name+" ") || !strings.Contains(out.String(), c.summary) {
				t.Errorf("%q: the list lacks %s (%q):\n%s", args, c.name, c.summary, out.String())
			}
		}
	}
}

// Every command's help (help CMD, CMD --help, CMD -h) prints, on stdout
// with exit 0, its usage line and every flag its FlagSet defines with the
// flag's description.
func TestCommandHelpListsEveryFlag(t *testing.T) {
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			var flags []*flag.Flag
			if c.flags != nil {
				fs, _ := c.flagSet(io.Discard)
				fs.VisitAll(func(f *flag.Flag) { flags = append(flags, f) })
			}
			for _, args := range [][]string{{"help", c.name}, {c.name, "--help"}, {c.name, "-h"}} {
				var out, errb bytes.Buffer
				if code := run(args, &out, &errb); code != 0 {
					t.Fatalf("%q: exit %d, stderr %s", args, code, errb.String())
				}
				help := out.String()
				if !strings.HasPrefix(help, "usage: edgegate "+c.name+" [flags]") {
					t.Errorf("%q: no usage line:\n%s", args, help)
				}
				for _, f := range flags {
					_, usage := flag.UnquoteUsage(f)
					if !strings.Contains(help, "--"+f.Name) || !strings.Contains(help, usage) {
						t.Errorf("%q: lacks --%s (%q):\n%s", args, f.Name, usage, help)
					}
				}
				if c.legacy != nil && !strings.Contains(help, "-config") {
					t.Errorf("%q: the command's own flags are missing:\n%s", args, help)
				}
			}
		})
	}
}

// The flags of the commands as the issue lists them are all there: a
// command that lost a flag fails here, not only in its own tests.
func TestCommandFlags(t *testing.T) {
	want := map[string]string{
		"serve":   "admin-listen config listen log-format log-level rules",
		"check":   "admin-listen config listen log-format log-level rules",
		"explain": "config header ip region rules",
		"sign":    "config",
		"gc":      "apply config rules",
		"version": "",
		"help":    "",
	}
	for _, c := range commands() {
		if c.flags == nil {
			continue
		}
		fs, _ := c.flagSet(io.Discard)
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		if got := strings.Join(names, " "); got != want[c.name] {
			t.Errorf("%s: flags %q, want %q", c.name, got, want[c.name])
		}
	}
}

func TestUnknownCommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // the suggestion, or "" for none
	}{
		{[]string{"expain"}, "explain"},
		{[]string{"serv"}, "serve"},
		{[]string{"chekc", "--config", "x"}, "check"}, // neighbours swapped
		{[]string{"ver"}, "version"},                  // a prefix
		{[]string{"helth"}, "health"},
		{[]string{"Sign"}, "sign"},
		{[]string{"frobnicate"}, ""},
		{[]string{"xy"}, ""},
		{[]string{"help", "expain"}, "explain"},
		{[]string{"help", "frobnicate"}, ""},
	} {
		var out, errb bytes.Buffer
		if code := run(tc.args, &out, &errb); code != 2 {
			t.Errorf("%q: exit %d, want 2", tc.args, code)
		}
		msg := errb.String()
		name := tc.args[len(tc.args)-1]
		if tc.args[0] != "help" {
			name = tc.args[0]
		}
		if !strings.Contains(msg, `unknown command "`+name+`"`) || !strings.Contains(msg, "edgegate help") {
			t.Errorf("%q: stderr %q", tc.args, msg)
		}
		if got := strings.Contains(msg, "did you mean"); got != (tc.want != "") || !strings.Contains(msg, `"`+tc.want+`"?`) && tc.want != "" {
			t.Errorf("%q: stderr %q, want the suggestion %q", tc.args, msg, tc.want)
		}
		if out.Len() != 0 {
			t.Errorf("%q: stdout %q", tc.args, out.String())
		}
	}
}

// A bad flag or argument: the error and the command's usage on stderr,
// exit 2, nothing on stdout.
func TestBadUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"check", "--nope"}, "flag provided but not defined: -nope"},
		{[]string{"--nope"}, "flag provided but not defined: -nope"}, // serve, the default command
		{[]string{"gc", "--apply=maybe"}, "invalid boolean value"},
		{[]string{"version", "extra"}, `unexpected argument "extra"`},
		{[]string{"serve", "extra"}, `unexpected argument "extra"`},
		{[]string{"help", "serve", "check"}, "at most one COMMAND"},
	} {
		var out, errb bytes.Buffer
		if code := run(tc.args, &out, &errb); code != 2 {
			t.Errorf("%q: exit %d, want 2", tc.args, code)
		}
		if !strings.Contains(errb.String(), tc.want) || out.Len() != 0 {
			t.Errorf("%q: stdout %q, stderr %q; want %q on stderr", tc.args, out.String(), errb.String(), tc.want)
		}
	}
	var out, errb bytes.Buffer
	run([]string{"check", "--nope"}, &out, &errb)
	if !strings.Contains(errb.String(), "usage: edgegate check [flags]") || !strings.Contains(errb.String(), "--rules FILE") {
		t.Errorf("a bad flag does not print the usage:\n%s", errb.String())
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		d    int
	}{
		{"", "", 0}, {"serve", "serve", 0}, {"serv", "serve", 1}, {"chekc", "check", 1},
		{"expain", "explain", 1}, {"sing", "sign", 1}, {"abc", "", 3}, {"kitten", "sitting", 3},
	} {
		if d := editDistance(tc.a, tc.b); d != tc.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, d, tc.d)
		}
	}
}
