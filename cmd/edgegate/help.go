package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// command is one subcommand of edgegate. Its help is generated from the
// FlagSet it parses, so the two cannot drift.
type command struct {
	name    string
	args    string // positional arguments after the flags, for the usage line ("KEY")
	summary string // one line for the command list
	detail  string // what it does, for its own help; summary when empty
	// flags defines the command's flags on fs and returns what runs it once
	// fs has parsed the arguments (the rest are in fs.Args()).
	flags func(fs *flag.FlagSet) func(fs *flag.FlagSet, stdout, stderr io.Writer) int
	// legacy runs a command that parses its own flags instead; its help
	// is what its FlagSet prints for -h.
	legacy func(args []string, stdout, stderr io.Writer) int
}

// exec parses args with the command's FlagSet and runs it. --help or -h
// prints its usage on stdout (exit 0); a bad flag prints the error and the
// usage on stderr (exit 2).
func (c *command) exec(args []string, stdout, stderr io.Writer) int {
	if c.legacy != nil {
		if len(args) == 1 && isHelpFlag(args[0]) {
			c.usage(stdout)
			return 0
		}
		return c.legacy(args, stdout, stderr)
	}
	fs, runCmd := c.flagSet(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.writeUsage(stdout, fs)
			return 0
		}
		c.writeUsage(stderr, fs)
		return 2
	}
	return runCmd(fs, stdout, stderr)
}

// flagSet builds the command's FlagSet, as exec parses with it.
func (c *command) flagSet(stderr io.Writer) (*flag.FlagSet, func(*flag.FlagSet, io.Writer, io.Writer) int) {
	fs := flag.NewFlagSet("edgegate "+c.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {} // exec prints the usage, on stdout for --help
	return fs, c.flags(fs)
}

func isHelpFlag(a string) bool {
	return a == "-h" || a == "--h" || a == "-help" || a == "--help"
}

// usage prints the command's usage and every flag it defines.
func (c *command) usage(w io.Writer) {
	if c.legacy != nil {
		// The command's own FlagSet prints its flags for -h (on stderr,
		// after a "Usage of ..." line) and returns 2.
		var b bytes.Buffer
		c.legacy([]string{"-h"}, io.Discard, &b)
		c.header(w)
		out := b.String()
		if _, rest, ok := strings.Cut(out, ":\n"); ok && strings.HasPrefix(out, "Usage of") {
			out = rest
		}
		if out != "" {
			fmt.Fprintf(w, "\nflags:\n%s", out)
		}
		return
	}
	fs, _ := c.flagSet(io.Discard)
	c.writeUsage(w, fs)
}

func (c *command) header(w io.Writer) {
	line := "edgegate " + c.name + " [flags]"
	if c.args != "" {
		line += " " + c.args
	}
	detail := c.detail
	if detail == "" && c.summary != "" {
		detail = strings.ToUpper(c.summary[:1]) + c.summary[1:] + "."
	}
	fmt.Fprintf(w, "usage: %s\n\n%s\n", line, detail)
}

// writeUsage prints the usage line, the description and fs's flags: each
// as --name VALUE, then its description and default.
func (c *command) writeUsage(w io.Writer, fs *flag.FlagSet) {
	c.header(w)
	first := true
	fs.VisitAll(func(f *flag.Flag) {
		if first {
			fmt.Fprint(w, "\nflags:\n")
			first = false
		}
		name, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if name != "" {
			line += " " + name
		}
		fmt.Fprintf(w, "%s\n        %s", line, strings.ReplaceAll(usage, "\n", "\n        "))
		if def := f.DefValue; def != "" && def != "false" && def != "[]" && def != "0" {
			fmt.Fprintf(w, " (default %s)", def)
		}
		fmt.Fprintln(w)
	})
}

// overview lists every command with its one line.
func overview(w io.Writer, cmds []command) {
	fmt.Fprint(w, "edgegate: the edge geo-routing and image gateway\n\n")
	fmt.Fprint(w, "usage: edgegate [COMMAND] [flags] [ARGS]   (no command: serve)\n\ncommands:\n")
	width := 0
	for _, c := range cmds {
		width = max(width, len(c.name))
	}
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.summary)
	}
	fmt.Fprint(w, "\n'edgegate help COMMAND' or 'edgegate COMMAND --help' prints a command's flags;\n"+
		"'edgegate --version' (or -v) is 'edgegate version'.\n")
}

func findCommand(cmds []command, name string) *command {
	for i := range cmds {
		if cmds[i].name == name {
			return &cmds[i]
		}
	}
	return nil
}

// unknownCommand reports name, with the closest command when one is near
// (a typo or a prefix), and points at the list.
func unknownCommand(w io.Writer, name string, cmds []command) {
	fmt.Fprintf(w, "edgegate: unknown command %q", name)
	if s := suggest(name, cmds); s != "" {
		fmt.Fprintf(w, "; did you mean %q?", s)
	}
	fmt.Fprint(w, "\nrun 'edgegate help' for the list of commands\n")
}

// suggest returns the command name closest to name: one that name is a
// prefix of (at least 2 letters), else the nearest within an edit distance
// of 2 (1 for names of up to 3 letters), else "".
func suggest(name string, cmds []command) string {
	if len(name) >= 2 {
		for _, c := range cmds {
			if strings.HasPrefix(c.name, name) {
				return c.name
			}
		}
	}
	limit := 2
	if len(name) <= 3 {
		limit = 1
	}
	best, bestD := "", limit+1
	for _, c := range cmds {
		if d := editDistance(strings.ToLower(name), c.name); d < bestD {
			best, bestD = c.name, d
		}
	}
	return best
}

// editDistance is the Damerau-Levenshtein distance (optimal string
// alignment: insertions, deletions, substitutions and transpositions of
// neighbours, each 1) between a and b, by bytes.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
