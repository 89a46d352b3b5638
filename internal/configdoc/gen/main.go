// Command gen writes docs/config.md (package configdoc) under -root.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/edgegate/edgegate/internal/configdoc"
)

func main() {
	root := flag.String("root", ".", "the module's root directory")
	flag.Parse()
	b, err := configdoc.Generate(*root)
	if err == nil {
		err = os.WriteFile(filepath.Join(*root, configdoc.Path), b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
