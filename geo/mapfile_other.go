//go:build !linux

package geo

import "github.com/oschwald/maxminddb-golang/v2"

// openReader maps path (see the Linux version for huge pages).
func openReader(path string) (*maxminddb.Reader, error) { return maxminddb.Open(path) }
