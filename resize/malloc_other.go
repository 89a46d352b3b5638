//go:build !linux || !cgo

package resize

// setArenaMax does nothing: malloc arenas are glibc's, on Linux.
func setArenaMax(int) (supported bool, err error) { return false, nil }
