package filewatch

import (
	"os"
	"time"
)

// fileState is what a poll compares: whether the file a path names exists,
// which file it is, its size and modification time.
type fileState struct {
	fi    os.FileInfo // nil if the path could not be stat'ed
	size  int64
	mtime time.Time
}

// statAll stats each path, following symlinks.
func statAll(paths []string) []fileState {
	out := make([]fileState, len(paths))
	for i, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		out[i] = fileState{fi: fi, size: fi.Size(), mtime: fi.ModTime()}
	}
	return out
}

// sameStates reports whether two polls of the same paths saw the same
// files: a rename-replace or a symlink swap gives another file
// (os.SameFile), an in-place write another size or modification time.
func sameStates(a, b []fileState) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if (a[i].fi == nil) != (b[i].fi == nil) {
			return false
		}
		if a[i].fi == nil {
			continue
		}
		if a[i].size != b[i].size || !a[i].mtime.Equal(b[i].mtime) || !os.SameFile(a[i].fi, b[i].fi) {
			return false
		}
	}
	return true
}
