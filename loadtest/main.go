// Command loadtest will drive edgegate with realistic traffic and report
// latency percentiles (the loadtest issue). For now it only says so.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "loadtest: not built yet; see the loadtest issue")
	os.Exit(2)
}
