// Command gen writes the images tests' fixtures (package testimages) to a
// directory:
//
//	go run ./internal/testimages/gen -out gateway/testdata/images
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/edgegate/edgegate/internal/testimages"
)

func main() {
	out := flag.String("out", "gateway/testdata/images", "directory to write")
	flag.Parse()
	fx, err := testimages.All()
	if err == nil {
		err = os.MkdirAll(*out, 0o755)
	}
	for _, f := range fx {
		if err != nil {
			break
		}
		err = os.WriteFile(filepath.Join(*out, f.Name), f.Data, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
