// Command render prints `helm template` of the edgegate chart through the
// helm library, as k8stest renders it: render CHART_DIR RELEASE NAMESPACE
// [key=value ...] (values as helm's --set).
package main

import (
	"fmt"
	"os"

	"helm.sh/helm/v3/pkg/strvals"

	"github.com/edgegate/edgegate/deploy/k8stest"
)

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: render CHART_DIR RELEASE NAMESPACE [key=value ...]")
		os.Exit(2)
	}
	vals := map[string]any{}
	for _, kv := range os.Args[4:] {
		if err := strvals.ParseInto(kv, vals); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	m, err := k8stest.Render(os.Args[1], os.Args[2], os.Args[3], vals)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Print(m)
}
